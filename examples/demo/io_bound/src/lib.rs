//! Tests that mostly *wait*, as if on a database, a socket or a slow disk.
//! Each sleeps 150-400 ms and then checks something trivial, so they barely
//! use the CPU: running them in parallel gives close to a linear speed-up even
//! on a machine with few cores.

use std::time::Duration;

/// Pretend to wait `ms` milliseconds for a reply, then return `value`.
pub fn fetch<T>(ms: u64, value: T) -> T {
    std::thread::sleep(Duration::from_millis(ms));
    value
}

#[cfg(test)]
mod tests {
    use super::fetch;

    #[test]
    fn user_lookup() {
        assert_eq!(fetch(150, "alice"), "alice");
    }

    #[test]
    fn order_history() {
        let orders = fetch(320, vec![3, 1, 4]);
        assert_eq!(orders.len(), 3);
    }

    #[test]
    fn config_download() {
        let cfg = fetch(210, "retries=3");
        assert_eq!(cfg.split('=').nth(1), Some("3"));
    }

    #[test]
    fn cache_miss() {
        assert_eq!(fetch(400, None::<u32>), None);
    }

    #[test]
    fn health_check() {
        assert!(fetch(180, true));
    }

    #[test]
    fn upload_roundtrip() {
        let sent = b"payload".to_vec();
        assert_eq!(fetch(350, sent.clone()), sent);
    }

    #[test]
    fn search_index() {
        let hits = fetch(270, ["a", "b"]);
        assert!(hits.contains(&"b"));
    }

    #[test]
    fn session_refresh() {
        assert_eq!(fetch(240, 60u32) * 60, 3600);
    }

    #[test]
    fn slow_report() {
        let total: u32 = fetch(380, vec![10, 20, 30]).iter().sum();
        assert_eq!(total, 60);
    }

    #[test]
    fn dns_resolve() {
        assert_eq!(fetch(160, [127u8, 0, 0, 1]), [127, 0, 0, 1]);
    }
}
