//! Busy-machine detection with real competing processes: busy loops that are not ours make a
//! measurement a busy machine's; busy loops that are our own children do not count as
//! others'.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use paralelo::prelude::*;
use paralelo::timing::BUSY_THRESHOLD;

/// A Python busy loop that ends itself after 20 s, whatever happens to this test.
const LOOP: &str = "import time\nend = time.time() + 20\nwhile time.time() < end: pass";

/// A busy loop that is *not* our descendant: a shell starts it in the background and exits,
/// so it is re-parented and its CPU never reaches our `getrusage` or `/proc` tree.
struct Stranger(u32);

impl Stranger {
    fn start() -> Stranger {
        Stranger::started("")
    }

    /// The same loop at the lowest priority (`nice -n 19`), as background work runs.
    fn niced() -> Stranger {
        Stranger::started("nice -n 19 ")
    }

    fn started(prefix: &str) -> Stranger {
        let script = format!("{prefix}python3 -c \"$0\" </dev/null >/dev/null 2>&1 & echo $!");
        let out = Command::new("sh")
            .args(["-c", &script, LOOP])
            .stderr(Stdio::null())
            .output()
            .expect("run sh");
        let pid = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("the busy loop's pid");
        Stranger(pid)
    }
}

impl Drop for Stranger {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.0.to_string()).status();
    }
}

/// A busy loop that *is* ours: our child, or (`through_shell`) our grandchild under a shell
/// that waits for it. Killed and waited for on drop.
struct OwnLoop(Child);

impl OwnLoop {
    fn start(through_shell: bool) -> OwnLoop {
        let mut command = if through_shell {
            let mut c = Command::new("sh");
            // `; exit` keeps the shell as the loop's parent (no exec of the last command);
            // when the shell is killed, the loop still ends by itself.
            c.args(["-c", "python3 -c \"$0\"; exit", LOOP]);
            c
        } else {
            let mut c = Command::new("python3");
            c.args(["-c", LOOP]);
            c
        };
        OwnLoop(
            command
                // Its own process group, so that drop ends the shell and its loop together.
                .process_group(0)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn a busy loop"),
        )
    }
}

impl Drop for OwnLoop {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The tests of this file one at a time: one's loops would be another's "other programs".
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

fn settle() {
    // Let the loops get going before measuring.
    std::thread::sleep(Duration::from_millis(400));
}

#[test]
fn other_programs_busy_loops_make_a_busy_machine() {
    let _serial = one_at_a_time();
    let strangers: Vec<Stranger> = (0..machine_cpu_count())
        .map(|_| Stranger::start())
        .collect();
    settle();
    let ((), m) = measure(|| std::thread::sleep(Duration::from_millis(600)));
    drop(strangers);
    let share = m.others_share().expect("/proc/stat is readable");
    // One loop per CPU: others hold (nearly) every CPU while we sleep.
    assert!(
        share >= 0.6,
        "others' share {share:.2} with a busy loop per CPU"
    );
    assert_eq!(m.busy_share(), Some(share));
    assert!(
        m.to_string().contains("Busy machine: other programs used"),
        "{m}"
    );
}

/// Niced work yields the CPUs to a measurement: while a CPU-bound measurement runs beside a
/// niced busy loop per CPU, the machine is not called busy (the kernel's own rust-analyzer
/// threads run at nice 19 beside every cell).
#[test]
fn niced_busy_loops_do_not_make_a_busy_machine() {
    let _serial = one_at_a_time();
    let strangers: Vec<Stranger> = (0..machine_cpu_count())
        .map(|_| Stranger::niced())
        .collect();
    settle();
    let (_, m) = measure(|| {
        let end = std::time::Instant::now() + Duration::from_millis(600);
        let mut spins = 0u64;
        while std::time::Instant::now() < end {
            spins = std::hint::black_box(spins + 1);
        }
        spins
    });
    drop(strangers);
    let share = m.others_share().expect("/proc/stat is readable");
    assert!(
        share < BUSY_THRESHOLD,
        "others' share {share:.2} from niced loops: {m}"
    );
    assert_eq!(m.busy_share(), None, "{m}");
}

#[test]
fn our_own_children_are_not_other_programs() {
    let _serial = one_at_a_time();
    // Half our children, half our grandchildren (under a shell).
    let loops: Vec<OwnLoop> = (0..machine_cpu_count().max(2))
        .map(|i| OwnLoop::start(i % 2 == 1))
        .collect();
    settle();
    let ((), m) = measure(|| std::thread::sleep(Duration::from_millis(600)));
    drop(loops);
    let load = m.machine.expect("/proc/stat is readable");
    let ours = m.cpu.total().as_secs_f64() / load.capacity.as_secs_f64();
    let others = m.others_share().unwrap();
    assert!(ours > 0.05, "our loops ran: {ours:.2} of the CPUs");
    // The machine cannot be more than full: counting our loops as others' would put
    // others + ours near 1 + ours.
    assert!(
        others + ours <= 1.1,
        "others {others:.2} + ours {ours:.2}: our children were counted as others"
    );
}

#[test]
fn a_table_row_measured_beside_busy_loops_gets_the_note() {
    let _serial = one_at_a_time();
    let strangers: Vec<Stranger> = (0..machine_cpu_count())
        .map(|_| Stranger::start())
        .collect();
    settle();
    let mut table = TimingTable::new("t");
    table
        .row("dormir")
        .measure(|| std::thread::sleep(Duration::from_millis(300)));
    let mut tabla = table.clone();
    tabla.language("es");
    drop(strangers);
    let busy = table.busy_rows();
    assert_eq!(busy.len(), 1, "{table}");
    assert!(busy[0].1 >= BUSY_THRESHOLD);
    let text = table.to_string();
    let percent = format!("{:.0} %", 100.0 * busy[0].1);
    assert!(
        text.contains(&format!(
            "busy machine: other programs used {percent} of the CPUs during «dormir»"
        )),
        "{text}"
    );
    assert!(
        table
            .to_html()
            .contains("busy machine: other programs used")
    );
    assert!(table.to_html().contains("data-busy="));
    assert!(
        tabla.to_string().contains(&format!(
            "máquina ocupada: otros programas usaron el {percent} de las CPU durante «dormir»"
        )),
        "{tabla}"
    );
    assert_eq!(table.to_json()["rows"][0]["busy"], true);
}

#[test]
fn a_grandchilds_cpu_is_ours() {
    let _serial = one_at_a_time();
    let grandchild = OwnLoop::start(true);
    settle();
    let ((), m) = measure(|| std::thread::sleep(Duration::from_millis(600)));
    drop(grandchild);
    // The shell uses nothing; its busy child is what counts.
    assert!(
        m.cpu.children() >= Duration::from_millis(30),
        "a busy grandchild's CPU: {:?}",
        m.cpu.children()
    );
}
