//! Synthetic cargo workspaces for the benchmark in `compare.rs`.
//!
//! A [`Workload`] is a plain description (crates, test binaries, tests and what each test does)
//! derived from a profile and a seed; [`Workload::write`] turns it into a standalone workspace:
//! a root `Cargo.toml` with `[workspace]`, and per crate a `Cargo.toml`, `src/lib.rs` (unit
//! tests) and `tests/*.rs` (one integration-test binary each). The crates use std only, so they
//! build offline. The same profile and seed always give the same files, byte for byte.
//!
//! Cargo also builds this file as a bench target of its own (`benches/*.rs` are discovered
//! automatically); there it runs the unit tests at the bottom: `cargo test --bench workload`.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Iterations of the generated `spin` loop per millisecond in a debug build (opt-level 0).
/// Measured on the 2-core benchmark machine: about 7 ns per iteration. Elsewhere CPU-bound
/// tests take more or less time than their nominal length; the benchmark measures the real
/// durations with a serial run, so only the nominal totals printed by the generator drift.
pub const SPIN_ITERS_PER_MS: u64 = 140_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Profile {
    Mixed,
    Tiny,
    Skewed,
    Wide,
    /// Tests that wait: what `-n auto` runs with more workers than cores.
    Io,
    /// Tests that compute: what `-n auto` runs with one worker per core.
    Cpu,
}

impl Profile {
    pub const ALL: [Profile; 6] = [
        Profile::Mixed,
        Profile::Tiny,
        Profile::Skewed,
        Profile::Wide,
        Profile::Io,
        Profile::Cpu,
    ];

    /// What `compare` runs by default.
    pub const COMPARE: [Profile; 4] = [
        Profile::Mixed,
        Profile::Tiny,
        Profile::Skewed,
        Profile::Wide,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Profile::Mixed => "mixed",
            Profile::Tiny => "tiny",
            Profile::Skewed => "skewed",
            Profile::Wide => "wide",
            Profile::Io => "io",
            Profile::Cpu => "cpu",
        }
    }

    pub fn parse(name: &str) -> Option<Profile> {
        Profile::ALL.into_iter().find(|p| p.name() == name)
    }

    /// One line on what the profile exercises.
    pub fn describe(self) -> &'static str {
        match self {
            Profile::Mixed => {
                "8 binaries in 3 crates: trivial, sleeping (20-200 ms), CPU-bound (50-300 ms) \
                 and five 1-2 s tests"
            }
            Profile::Tiny => "2000 trivial tests in 4 binaries: the cost of starting a test",
            Profile::Skewed => {
                "4 binaries whose 1-2 s test comes last in name order, after 35 short ones"
            }
            Profile::Wide => "54 binaries of 3 short tests each",
            Profile::Io => {
                "80 tests in 4 binaries that wait 50-250 ms: on a sleep, or on a socket until \
                 a peer answers"
            }
            Profile::Cpu => "64 tests in 4 binaries that compute for 30-120 ms",
        }
    }
}

/// What a generated test does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An assertion on a number: as close to zero work as a test gets.
    Trivial,
    /// `thread::sleep`: takes its time whatever the load on the machine.
    Sleep { ms: u64 },
    /// Blocks reading a socket until a peer thread, which sleeps first, writes to it.
    Socket { ms: u64 },
    /// A fixed amount of arithmetic: slows down when there are more running tests than cores.
    Cpu { ms: u64 },
}

impl Kind {
    /// Expected duration in milliseconds (nominal for CPU-bound tests, see
    /// [`SPIN_ITERS_PER_MS`]).
    pub fn nominal_ms(self) -> u64 {
        match self {
            Kind::Trivial => 0,
            Kind::Sleep { ms } | Kind::Socket { ms } | Kind::Cpu { ms } => ms,
        }
    }

    pub fn is_cpu(self) -> bool {
        matches!(self, Kind::Cpu { .. })
    }
}

#[derive(Debug, Clone)]
pub struct Test {
    /// Function name; unique across the whole workload.
    pub name: String,
    pub kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The unit tests in `src/lib.rs`, inside `mod tests`.
    Lib,
    /// `tests/<name>.rs`.
    Integration(String),
}

#[derive(Debug, Clone)]
pub struct Binary {
    pub target: Target,
    /// In name order, which is the order `cargo test` runs them in.
    pub tests: Vec<Test>,
}

#[derive(Debug, Clone)]
pub struct Crate {
    pub name: String,
    /// The lib target first, then the integration tests.
    pub binaries: Vec<Binary>,
}

#[derive(Debug, Clone)]
pub struct Workload {
    pub profile: Profile,
    pub seed: u64,
    pub crates: Vec<Crate>,
}

/// xorshift64*, seeded through splitmix64: a few lines, and stable forever, unlike a
/// dependency's generator.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `lo..=hi` (the modulo bias is irrelevant here).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    /// True with probability 1/n.
    fn one_in(&mut self, n: u64) -> bool {
        self.next() % n == 0
    }
}

/// Crates as (name, number of integration-test files); every crate has a lib target too.
fn skeleton(layout: &[(&str, usize)], file_prefix: &str) -> Vec<Crate> {
    layout
        .iter()
        .map(|&(name, files)| {
            let mut binaries = vec![Binary {
                target: Target::Lib,
                tests: Vec::new(),
            }];
            binaries.extend((1..=files).map(|i| Binary {
                target: Target::Integration(format!("{file_prefix}{i:02}")),
                tests: Vec::new(),
            }));
            Crate {
                name: name.to_string(),
                binaries,
            }
        })
        .collect()
}

impl Workload {
    pub fn generate(profile: Profile, seed: u64) -> Workload {
        let mut rng = Rng::new(seed ^ (profile as u64).wrapping_mul(0xA076_1D64_78BD_642F));
        let crates = match profile {
            Profile::Mixed => mixed(&mut rng),
            Profile::Tiny => tiny(),
            Profile::Skewed => skewed(&mut rng),
            Profile::Wide => wide(&mut rng),
            Profile::Io => io(&mut rng),
            Profile::Cpu => cpu(&mut rng),
        };
        let mut workload = Workload {
            profile,
            seed,
            crates,
        };
        for binary in workload.binaries_mut() {
            binary.tests.sort_by(|a, b| a.name.cmp(&b.name));
        }
        workload
    }

    fn binaries_mut(&mut self) -> impl Iterator<Item = &mut Binary> {
        self.crates.iter_mut().flat_map(|c| c.binaries.iter_mut())
    }

    pub fn binaries(&self) -> impl Iterator<Item = &Binary> {
        self.crates.iter().flat_map(|c| c.binaries.iter())
    }

    pub fn tests(&self) -> impl Iterator<Item = &Test> {
        self.binaries().flat_map(|b| b.tests.iter())
    }

    pub fn binary_count(&self) -> usize {
        self.binaries().count()
    }

    pub fn test_count(&self) -> usize {
        self.tests().count()
    }

    /// Sum of the nominal durations: what a serial run costs, process overhead excluded.
    pub fn nominal_serial_ms(&self) -> u64 {
        self.tests().map(|t| t.kind.nominal_ms()).sum()
    }

    /// The part of [`Self::nominal_serial_ms`] spent in CPU-bound tests.
    pub fn nominal_cpu_ms(&self) -> u64 {
        self.tests()
            .filter(|t| t.kind.is_cpu())
            .map(|t| t.kind.nominal_ms())
            .sum()
    }

    /// Test function name → kind. Test names are unique in a workload, so the last `::`
    /// segment of a name reported by any tool finds its kind (see [`Self::kind_of`]).
    pub fn kinds(&self) -> HashMap<String, Kind> {
        self.tests().map(|t| (t.name.clone(), t.kind)).collect()
    }

    /// The kind of a test as a runner names it (`tests::cpu_003` or `cpu_003`).
    pub fn kind_of(kinds: &HashMap<String, Kind>, reported_name: &str) -> Option<Kind> {
        let short = reported_name.rsplit("::").next().unwrap_or(reported_name);
        kinds.get(short).copied()
    }

    /// Write the workspace into `dir` (created if missing) and return the root manifest.
    /// Files whose content is already right are left alone, so a kept workspace is not
    /// rebuilt; stale integration-test files from another generator version are removed.
    pub fn write(&self, dir: &Path) -> Result<PathBuf> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let root = dir.join("Cargo.toml");
        write_if_changed(&root, &self.root_manifest())?;
        for krate in &self.crates {
            let crate_dir = dir.join(&krate.name);
            write_if_changed(
                &crate_dir.join("Cargo.toml"),
                &format!(
                    "[package]\nname = \"{}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\
                     publish = false\n\n\
                     # No doctests: `cargo test` would run rustdoc on every lib for nothing.\n\
                     [lib]\ndoctest = false\n",
                    krate.name
                ),
            )?;
            let mut wanted = BTreeSet::new();
            for binary in &krate.binaries {
                let (path, text) = match &binary.target {
                    Target::Lib => (crate_dir.join("src").join("lib.rs"), self.lib_rs(binary)),
                    Target::Integration(name) => {
                        let path = crate_dir.join("tests").join(format!("{name}.rs"));
                        wanted.insert(path.clone());
                        (path, self.test_file(binary))
                    }
                };
                write_if_changed(&path, &text)?;
            }
            remove_stale(&crate_dir.join("tests"), &wanted)?;
        }
        Ok(root)
    }

    fn header(&self) -> String {
        format!(
            "//! Generated by runner's benches/workload.rs (profile `{}`, seed {}). Do not edit.\n",
            self.profile.name(),
            self.seed
        )
    }

    fn root_manifest(&self) -> String {
        let members: Vec<String> = self
            .crates
            .iter()
            .map(|c| format!("\"{}\"", c.name))
            .collect();
        format!(
            "# Generated by runner's benches/workload.rs (profile `{}`, seed {}).\n\
             [workspace]\nmembers = [{}]\nresolver = \"2\"\n",
            self.profile.name(),
            self.seed,
            members.join(", ")
        )
    }

    fn lib_rs(&self, binary: &Binary) -> String {
        let mut out = self.header();
        out.push_str("\n/// Something for the integration tests to link against.\n");
        out.push_str("pub fn answer() -> u64 {\n    42\n}\n\n#[cfg(test)]\nmod tests {\n");
        for line in test_items(binary).lines() {
            if line.is_empty() {
                out.push('\n');
            } else {
                let _ = writeln!(out, "    {line}");
            }
        }
        out.push_str("}\n");
        out
    }

    fn test_file(&self, binary: &Binary) -> String {
        let mut out = self.header();
        out.push('\n');
        out.push_str(&test_items(binary));
        out
    }
}

/// The helper (if needed) and the `#[test]` functions of one binary, at indentation 0.
fn test_items(binary: &Binary) -> String {
    let mut out = String::new();
    if binary.tests.iter().any(|t| t.kind.is_cpu()) {
        out.push_str(
            "/// A fixed amount of work: it takes longer when the cores are oversubscribed.\n\
             fn spin(iters: u64) -> u64 {\n    \
                 let mut x: u64 = 0x9E37_79B9_7F4A_7C15;\n    \
                 for _ in 0..iters {\n        \
                     x ^= x << 13;\n        \
                     x ^= x >> 7;\n        \
                     x ^= x << 17;\n    \
                 }\n    \
                 std::hint::black_box(x)\n\
             }\n\n",
        );
    }
    if binary
        .tests
        .iter()
        .any(|t| matches!(t.kind, Kind::Socket { .. }))
    {
        out.push_str(
            "/// Blocks on a socket until the peer, a thread that first sleeps `ms`, answers.\n\
             fn wait_for_peer(ms: u64) -> usize {\n    \
                 use std::io::{Read, Write};\n    \
                 let (mut here, mut there) = std::os::unix::net::UnixStream::pair().unwrap();\n    \
                 let peer = std::thread::spawn(move || {\n        \
                     std::thread::sleep(std::time::Duration::from_millis(ms));\n        \
                     there.write_all(b\"!\").unwrap();\n    \
                 });\n    \
                 let mut byte = [0u8; 1];\n    \
                 let read = here.read(&mut byte).unwrap();\n    \
                 peer.join().unwrap();\n    \
                 read\n\
             }\n\n",
        );
    }
    for (i, test) in binary.tests.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let _ = writeln!(out, "#[test]\nfn {}() {{", test.name);
        let _ = match test.kind {
            Kind::Trivial => writeln!(
                out,
                "    let n: u64 = std::hint::black_box({i});\n    assert_eq!(n * 2, n + n);"
            ),
            Kind::Sleep { ms } => writeln!(
                out,
                "    std::thread::sleep(std::time::Duration::from_millis({ms}));"
            ),
            Kind::Socket { ms } => writeln!(out, "    assert_eq!(wait_for_peer({ms}), 1);"),
            Kind::Cpu { ms } => writeln!(
                out,
                "    // About {ms} ms of CPU in a debug build.\n    \
                 assert_ne!(spin({ms} * {SPIN_ITERS_PER_MS}), 0);"
            ),
        };
        out.push_str("}\n");
    }
    out
}

/// ~8 binaries in 3 crates; ~16 s serial: 40 trivial, 32 sleeping (20-200 ms), 30 CPU-bound
/// (50-300 ms), 5 long sleeps (1-2 s), spread over the binaries at random.
fn mixed(rng: &mut Rng) -> Vec<Crate> {
    let mut crates = skeleton(&[("alpha", 2), ("beta", 2), ("gamma", 1)], "it_");
    let mut tests = Vec::new();
    for i in 0..40 {
        tests.push(Test {
            name: format!("trivial_{i:03}"),
            kind: Kind::Trivial,
        });
    }
    for i in 0..32 {
        tests.push(Test {
            name: format!("sleep_{i:03}"),
            kind: Kind::Sleep {
                ms: rng.range(20, 200),
            },
        });
    }
    for i in 0..30 {
        tests.push(Test {
            name: format!("cpu_{i:03}"),
            kind: Kind::Cpu {
                ms: rng.range(50, 300),
            },
        });
    }
    for i in 0..5 {
        tests.push(Test {
            name: format!("long_{i:03}"),
            kind: Kind::Sleep {
                ms: rng.range(1000, 2000),
            },
        });
    }
    let mut slots: Vec<&mut Binary> = crates
        .iter_mut()
        .flat_map(|c| c.binaries.iter_mut())
        .collect();
    let count = slots.len() as u64;
    for (i, test) in tests.into_iter().enumerate() {
        // The first few trivial tests make sure no binary is empty.
        let slot = if (i as u64) < count {
            i as u64
        } else {
            rng.range(0, count - 1)
        };
        slots[slot as usize].tests.push(test);
    }
    crates
}

/// 2000 trivial tests, 500 in each of 4 binaries.
fn tiny() -> Vec<Crate> {
    let mut crates = skeleton(&[("tiny", 3)], "t");
    for (b, binary) in crates[0].binaries.iter_mut().enumerate() {
        binary.tests = (0..500)
            .map(|j| Test {
                name: format!("t{b}_{j:04}"),
                kind: Kind::Trivial,
            })
            .collect();
    }
    crates
}

/// 4 binaries; in each, 35 short tests (mostly 20-80 ms sleeps) and, last in name order, one
/// 1-2 s sleep. ~12 s serial. Name order puts the long test at the end of its binary, the worst
/// place for a runner that starts tests in name order.
fn skewed(rng: &mut Rng) -> Vec<Crate> {
    let mut crates = skeleton(&[("skew_a", 1), ("skew_b", 1)], "it_");
    let binaries = crates.iter_mut().flat_map(|c| c.binaries.iter_mut());
    for (b, binary) in binaries.enumerate() {
        for j in 0..35 {
            let kind = if rng.one_in(5) {
                Kind::Trivial
            } else {
                Kind::Sleep {
                    ms: rng.range(20, 80),
                }
            };
            binary.tests.push(Test {
                name: format!("b{b}_{j:03}_short"),
                kind,
            });
        }
        binary.tests.push(Test {
            name: format!("b{b}_035_long"),
            kind: Kind::Sleep {
                ms: rng.range(1000, 2000),
            },
        });
    }
    crates
}

/// 54 binaries (2 crates of a lib and 26 integration-test files) of 3 short tests each:
/// trivial or 5-40 ms sleeps. The cost of binaries rather than tests.
fn wide(rng: &mut Rng) -> Vec<Crate> {
    let mut crates = skeleton(&[("wide_a", 26), ("wide_b", 26)], "w");
    let binaries = crates.iter_mut().flat_map(|c| c.binaries.iter_mut());
    for (b, binary) in binaries.enumerate() {
        for j in 0..3 {
            let kind = if rng.one_in(3) {
                Kind::Trivial
            } else {
                Kind::Sleep {
                    ms: rng.range(5, 40),
                }
            };
            binary.tests.push(Test {
                name: format!("w{b:02}_{j}"),
                kind,
            });
        }
    }
    crates
}

/// 80 tests in 4 binaries (2 crates × lib + 1 integration-test file), each waiting 50-250 ms:
/// half on a sleep, half on a socket. ~12 s serial, nearly none of it on CPU.
fn io(rng: &mut Rng) -> Vec<Crate> {
    let mut crates = skeleton(&[("io_a", 1), ("io_b", 1)], "it_");
    let binaries = crates.iter_mut().flat_map(|c| c.binaries.iter_mut());
    for (b, binary) in binaries.enumerate() {
        for j in 0..20 {
            let ms = rng.range(50, 250);
            let (what, kind) = if j % 2 == 0 {
                ("sleep", Kind::Sleep { ms })
            } else {
                ("socket", Kind::Socket { ms })
            };
            binary.tests.push(Test {
                name: format!("io{b}_{j:02}_{what}"),
                kind,
            });
        }
    }
    crates
}

/// 64 tests in 4 binaries, each computing for 30-120 ms (nominal, see [`SPIN_ITERS_PER_MS`]).
/// ~5 s serial, all of it on CPU.
fn cpu(rng: &mut Rng) -> Vec<Crate> {
    let mut crates = skeleton(&[("cpu_a", 1), ("cpu_b", 1)], "it_");
    let binaries = crates.iter_mut().flat_map(|c| c.binaries.iter_mut());
    for (b, binary) in binaries.enumerate() {
        for j in 0..16 {
            binary.tests.push(Test {
                name: format!("cpu{b}_{j:02}"),
                kind: Kind::Cpu {
                    ms: rng.range(30, 120),
                },
            });
        }
    }
    crates
}

fn write_if_changed(path: &Path, text: &str) -> Result<()> {
    if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// Remove `*.rs` files in `dir` that are not in `wanted`.
fn remove_stale(dir: &Path, wanted: &BTreeSet<PathBuf>) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "rs") && !wanted.contains(&path) {
            std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    // Unused where this file is a module of `compare`: without a harness the tests vanish.
    #[allow(unused_imports)]
    use super::*;

    #[test]
    fn profiles_have_the_promised_shape() {
        let mixed = Workload::generate(Profile::Mixed, 1);
        assert_eq!(mixed.binary_count(), 8);
        let serial = mixed.nominal_serial_ms();
        assert!((15_000..=25_000).contains(&serial), "mixed: {serial} ms");

        let tiny = Workload::generate(Profile::Tiny, 1);
        assert_eq!((tiny.binary_count(), tiny.test_count()), (4, 2000));

        let skewed = Workload::generate(Profile::Skewed, 1);
        assert_eq!(skewed.binary_count(), 4);
        let serial = skewed.nominal_serial_ms();
        assert!((10_000..=15_000).contains(&serial), "skewed: {serial} ms");
        for binary in skewed.binaries() {
            let longest = binary.tests.iter().map(|t| t.kind.nominal_ms()).max();
            let last = binary.tests.last().map(|t| t.kind.nominal_ms());
            assert_eq!(longest, last, "the longest test comes last in name order");
            assert!(last.unwrap() >= 1000);
        }

        let wide = Workload::generate(Profile::Wide, 1);
        assert!(wide.binary_count() >= 50);
        assert!(wide.binaries().all(|b| b.tests.len() == 3));

        let io = Workload::generate(Profile::Io, 1);
        assert_eq!((io.binary_count(), io.test_count()), (4, 80));
        assert_eq!(io.nominal_cpu_ms(), 0);
        let serial = io.nominal_serial_ms();
        assert!((10_000..=14_000).contains(&serial), "io: {serial} ms");
        assert!(io.tests().any(|t| matches!(t.kind, Kind::Socket { .. })));

        let cpu = Workload::generate(Profile::Cpu, 1);
        assert_eq!((cpu.binary_count(), cpu.test_count()), (4, 64));
        assert_eq!(cpu.nominal_cpu_ms(), cpu.nominal_serial_ms());
    }

    #[test]
    fn names_are_unique_and_every_binary_has_tests() {
        for profile in Profile::ALL {
            let workload = Workload::generate(profile, 7);
            assert_eq!(workload.kinds().len(), workload.test_count(), "{profile:?}");
            assert!(workload.binaries().all(|b| !b.tests.is_empty()));
        }
    }

    #[test]
    fn same_seed_same_files_other_seed_other_durations() {
        let dir = tempfile::tempdir().unwrap();
        let read_all = |root: &Path| {
            let mut files = Vec::new();
            let mut stack = vec![root.to_path_buf()];
            while let Some(dir) = stack.pop() {
                for entry in std::fs::read_dir(dir).unwrap() {
                    let path = entry.unwrap().path();
                    if path.is_dir() {
                        stack.push(path);
                    } else {
                        let text = std::fs::read_to_string(&path).unwrap();
                        files.push((path.strip_prefix(root).unwrap().to_path_buf(), text));
                    }
                }
            }
            files.sort();
            files
        };
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        Workload::generate(Profile::Mixed, 3).write(&a).unwrap();
        Workload::generate(Profile::Mixed, 3).write(&b).unwrap();
        assert_eq!(read_all(&a), read_all(&b));

        let one = Workload::generate(Profile::Mixed, 3).nominal_serial_ms();
        let other = Workload::generate(Profile::Mixed, 4).nominal_serial_ms();
        assert_ne!(one, other);
    }

    #[test]
    fn reported_names_find_their_kind() {
        let workload = Workload::generate(Profile::Mixed, 1);
        let kinds = workload.kinds();
        assert_eq!(
            Workload::kind_of(&kinds, "tests::trivial_000"),
            Some(Kind::Trivial)
        );
        assert_eq!(
            Workload::kind_of(&kinds, "trivial_001"),
            Some(Kind::Trivial)
        );
        assert_eq!(Workload::kind_of(&kinds, "nope"), None);
    }
}
