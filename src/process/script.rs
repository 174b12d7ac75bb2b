//! Setup scripts' processes: a script runs to its end in its own process group, its output in
//! files, with a timeout; what it leaves running (a server for the tests) lives on until the
//! run ends, and is then ended with everything it started.
//!
//! Unlike a test, a script is not followed by a kill of its process group when it exits: a
//! server it started in the background is the point. Its output goes to files rather than
//! pipes, so that a server still writing to the script's stdout neither blocks nor holds the
//! run up. Everything the script starts carries its tag (see `tracking`), which is how it is
//! found at the end, wherever it moved; the watchdog ends it if the runner dies.

use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags};
use nix::sys::signal::Signal;

use super::child::{open_pidfd, Hooks, Limits};
use super::control::RunControl;
use super::deadlines::Deadlines;
use super::reap::{has_exited, reap, Exit};
use super::tracking::{self, Tracked};

/// How a script ended, and the tag of what it may have left running.
#[derive(Debug)]
pub struct ScriptEnd {
    pub exit: Exit,
    pub duration: Duration,
    pub timed_out: bool,
    pub leftovers: Leftovers,
}

/// What a script started and left running, found by the tag it inherited.
#[derive(Debug, Clone)]
pub struct Leftovers {
    tag: String,
}

/// Run `command` to its end: stdin from /dev/null, stdout and stderr to the files given,
/// `limits.timeout` (SIGTERM to everything it started, SIGKILL after `limits.grace`) and the
/// run's cancellation observed. Whatever it leaves running is not touched.
pub fn run_script(
    command: &mut Command,
    limits: &Limits,
    control: &RunControl,
    (stdout, stderr): (File, File),
) -> io::Result<ScriptEnd> {
    let mut clock = Deadlines::new(limits, control);
    let tag = tracking::tag(command);
    let child = command
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .process_group(0)
        .spawn()?;
    let leader = child.id() as i32;
    let tracked = Tracked {
        leader,
        group: leader,
        tag: tag.clone(),
    };
    control.register(tracked.clone());
    let pidfd = open_pidfd(child.id());
    let mut hooks = Hooks::default();
    loop {
        let now = Instant::now();
        if has_exited(leader)? {
            break;
        }
        clock.enforce(now, false, &tracked, &mut hooks);
        let timeout = clock.poll_timeout(now, false, pidfd.is_none());
        match &pidfd {
            Some(fd) => match poll(&mut [PollFd::new(fd.as_fd(), PollFlags::POLLIN)], timeout) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(e.into()),
            },
            // No pidfd on this kernel: look again shortly (the deadlines ask for 20 ms then).
            None => std::thread::sleep(LOOK_AGAIN),
        }
    }
    control.unregister(leader);
    let duration = clock.active(Instant::now());
    let (status, _cpu) = reap(leader)?;
    Ok(ScriptEnd {
        exit: Exit::from(status),
        duration,
        timed_out: clock.timed_out(),
        leftovers: Leftovers { tag },
    })
}

/// How often a script's end is looked for where there is no pidfd.
const LOOK_AGAIN: Duration = Duration::from_millis(20);
/// How often the end of the run looks whether what it signalled is gone.
const LOOK_FOR_THE_END: Duration = Duration::from_millis(5);

/// End what the scripts left running: SIGTERM to every process carrying one of their tags,
/// then, after `grace`, SIGKILL to those still alive. Returns once none is left alive, so that
/// the sweep for escaped processes afterwards finds only their remains (and reaps them
/// quietly). Returns how many processes had to be ended.
pub fn end_leftovers(leftovers: &[Leftovers], grace: Duration) -> usize {
    let tracked: Vec<Tracked> = leftovers
        .iter()
        .map(|left| Tracked {
            // Only the tag: the script's group and pid may belong to others by now.
            leader: 0,
            group: 0,
            tag: left.tag.clone(),
        })
        .collect();
    let tags: Vec<&str> = leftovers.iter().map(|l| l.tag.as_str()).collect();
    let found = tracking::tagged(&tags);
    if found.is_empty() {
        return 0;
    }
    // A process in the middle of exiting has no environment to read any more but is not dead
    // yet: the ones found are watched by pid until they are gone or only remains.
    let gone =
        || tracking::tagged(&tags).is_empty() && !found.iter().any(|&pid| tracking::is_alive(pid));
    let all: Vec<&Tracked> = tracked.iter().collect();
    for (signal, wait) in [(Signal::SIGTERM, grace), (Signal::SIGKILL, grace)] {
        tracking::signal_trees(&all, signal);
        let deadline = Instant::now() + wait;
        while !gone() && Instant::now() < deadline {
            std::thread::sleep(LOOK_FOR_THE_END);
        }
        if gone() {
            break;
        }
    }
    found.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files() -> (tempfile::TempDir, (File, File)) {
        let dir = tempfile::tempdir().unwrap();
        let out = File::create(dir.path().join("out")).unwrap();
        let err = File::create(dir.path().join("err")).unwrap();
        (dir, (out, err))
    }

    #[test]
    fn a_server_left_running_outlives_its_script_until_the_end() {
        let (dir, streams) = files();
        let mut command = Command::new("sh");
        // The background sleep keeps the script's stdout: the script must still end at once.
        command.args([
            "-c",
            "sleep 30 & echo $! > \"$0\"; echo started",
            &dir.path().join("pid").display().to_string(),
        ]);
        let end = run_script(
            &mut command,
            &Limits::default(),
            &RunControl::new(),
            streams,
        )
        .unwrap();
        assert_eq!(end.exit, Exit::Code(0));
        assert!(end.duration < Duration::from_secs(10));
        let pid: i32 = std::fs::read_to_string(dir.path().join("pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert_eq!(tracking::tagged(&[&end.leftovers.tag]), [pid]);
        assert_eq!(
            end_leftovers(std::slice::from_ref(&end.leftovers), Duration::from_secs(5)),
            1
        );
        assert!(tracking::tagged(&[&end.leftovers.tag]).is_empty());
        let out = std::fs::read_to_string(dir.path().join("out")).unwrap();
        assert_eq!(out, "started\n");
    }

    #[test]
    fn a_script_past_its_timeout_is_ended() {
        let (_dir, streams) = files();
        let limits = Limits {
            timeout: Some(Duration::from_millis(100)),
            grace: Duration::from_millis(100),
            ..Limits::default()
        };
        let mut command = Command::new("sleep");
        command.arg("30");
        let end = run_script(&mut command, &limits, &RunControl::new(), streams).unwrap();
        assert!(end.timed_out);
        assert!(matches!(end.exit, Exit::Signal(_)), "{end:?}");
    }
}
