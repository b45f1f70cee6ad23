//! The compiler processes a cell's build runs (evcxr starts `cargo`, which starts `rustc` and
//! the linker), found through `/proc` so that an interrupt during a compile stops the build
//! instead of the evaluation child: nothing of the cell has run yet, so the session's
//! variables stay.

use std::collections::HashMap;

/// The kernel's compiler children (`cargo`, `rustc`) and all their descendants, parents
/// first; `runtime` (the evaluation child, the kernel's own binary) is never among them.
fn compile_tree(runtime: u32) -> Vec<i32> {
    let mut children: HashMap<i32, Vec<(i32, String)>> = HashMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        // `pid (comm) state ppid …`: comm may hold spaces and parentheses, so split at the
        // last `)`.
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = stat[open + 1..close].to_owned();
        let ppid = stat[close + 1..]
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse::<i32>().ok());
        if let Some(ppid) = ppid {
            children.entry(ppid).or_default().push((pid, comm));
        }
    }
    let own = std::process::id().cast_signed();
    let mut tree: Vec<i32> = children
        .get(&own)
        .into_iter()
        .flatten()
        .filter(|(pid, comm)| {
            u32::try_from(*pid) != Ok(runtime) && (comm == "cargo" || comm == "rustc")
        })
        .map(|(pid, _)| *pid)
        .collect();
    let mut next = 0;
    while next < tree.len() {
        let parent = tree[next];
        next += 1;
        for (pid, _) in children.get(&parent).into_iter().flatten() {
            if !tree.contains(pid) {
                tree.push(*pid);
            }
        }
    }
    tree
}

/// Kills the running build, if there is one, and says whether there was. Parents go first,
/// so `cargo` starts no new `rustc` while its children are killed.
pub(crate) fn stop_build(runtime: u32) -> bool {
    let tree = compile_tree(runtime);
    for pid in &tree {
        // SAFETY: kill(2) has no memory-safety preconditions; the pids were our compiler's
        // processes a moment ago (a pid reused since is an accepted, tiny risk: /proc gives
        // no handle to hold).
        unsafe { libc::kill(*pid, libc::SIGKILL) };
    }
    !tree.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cargo_child_and_its_children_are_the_build() {
        // `stop_build` kills every compiler child of this process, and the other tests of
        // this binary run in it at the same time (some start `rustc` or `cargo`): the test
        // runs alone, in a child process of its own that runs this binary again.
        const ALONE: &str = "PARALELO_COMPILE_PROCESSES_TEST_ALONE";
        if std::env::var_os(ALONE).is_none() {
            let alone = std::process::Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "compile_processes::tests::a_cargo_child_and_its_children_are_the_build",
                    "--test-threads=1",
                ])
                .env(ALONE, "1")
                .output()
                .unwrap();
            assert!(
                alone.status.success(),
                "the test, run alone, failed: {}\n{}{}",
                alone.status,
                String::from_utf8_lossy(&alone.stdout),
                String::from_utf8_lossy(&alone.stderr)
            );
            return;
        }
        // A stand-in named `cargo` (a shell script) with a child of its own.
        let dir = std::env::temp_dir().join(format!("paralelo-build-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cargo = dir.join("cargo");
        std::fs::write(&cargo, "#!/bin/sh\nsleep 60 &\nwait\n").unwrap();
        std::fs::set_permissions(&cargo, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let mut other = std::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .unwrap();
        let mut build = std::process::Command::new(&cargo).spawn().unwrap();
        // Its child appears once the shell has started it.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while compile_tree(0).len() < 2 {
            assert!(
                std::time::Instant::now() < deadline,
                "the stand-in build did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(stop_build(0));
        let status = build.wait().unwrap();
        assert!(!status.success(), "the build was killed");
        assert!(compile_tree(0).is_empty());
        assert!(!stop_build(0), "nothing left to stop");
        // A child that is not a compiler is left alone.
        assert!(other.try_wait().unwrap().is_none());
        other.kill().unwrap();
        other.wait().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
