//! `Value` and `Array` in shared memory: the locked count is exact (S1-3), the unlocked
//! race can lose updates (S2-16), a child's writes are seen by the parent (S2-17).

mod process_util;

use paralelo::prelude::*;
use process_util::in_child;

fn run_all(procs: &[Process]) {
    procs.iter().for_each(|p| p.start().unwrap());
    for p in procs {
        p.join().unwrap();
        assert_eq!(p.exitcode(), Some(0), "{p:?}");
    }
}

#[test]
fn locked_increment_by_five_processes_is_always_five() {
    in_child(60, || {
        for _ in 0..20 {
            let v = Value::new(0i32).unwrap();
            let procs: Vec<Process> = (0..5)
                .map(|_| {
                    let v = v.clone();
                    Process::new(move || {
                        let _g = v.get_lock().acquire().unwrap();
                        v.set(v.get() + 1);
                    })
                })
                .collect();
            run_all(&procs);
            assert_eq!(v.get(), 5);
        }
    });
}

#[test]
fn unlocked_increments_can_be_lost_but_locked_ones_are_not() {
    in_child(120, || {
        const N: i64 = 200_000;
        let racy = Value::new(0i64).unwrap();
        let safe = Value::new(0i64).unwrap();
        let procs: Vec<Process> = (0..2)
            .map(|_| {
                let (racy, safe) = (racy.clone(), safe.clone());
                Process::new(move || {
                    for _ in 0..N {
                        racy.set(racy.get() + 1); // two steps: another process can interleave
                    }
                    for _ in 0..N / 10 {
                        safe.update(|x| x + 1).unwrap();
                    }
                })
            })
            .collect();
        run_all(&procs);
        assert!(racy.get() <= 2 * N && racy.get() > 0);
        assert_eq!(safe.get(), 2 * N / 10);
    });
}

#[test]
fn a_child_fills_an_array_the_parent_reads() {
    in_child(30, || {
        let arr = Array::<f64>::zeroed(10).unwrap();
        let child = arr.clone();
        let p = Process::new(move || {
            for i in 0..child.len() {
                child.set(i, i as f64 * 0.5).unwrap();
            }
        });
        run_all(&[p]);
        assert_eq!(arr.get(9).unwrap(), 4.5);
        assert_eq!(arr.to_vec().len(), 10);
    });
}

#[test]
fn out_of_range_is_a_clear_error() {
    let arr = Array::from_slice(&[1u8, 2, 3]).unwrap();
    let err = arr.get(3).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.to_string().contains("out of range"), "{err}");
    assert_eq!(
        arr.set(7, 0).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    assert!(Array::<i32>::zeroed(0).unwrap().is_empty());
}

#[test]
fn a_child_cannot_fill_its_parents_vec_but_can_fill_an_array() {
    in_child(30, || {
        let mut plain = vec![0u32; 3];
        let shared = Array::<u32>::zeroed(3).unwrap();
        let s = shared.clone();
        let plain_ptr = &mut plain as *mut Vec<u32> as usize;
        let p = Process::new(move || {
            // SAFETY: this is the child's own copy of the parent's memory (fork).
            let v = unsafe { &mut *(plain_ptr as *mut Vec<u32>) };
            v.fill(7);
            for i in 0..3 {
                s.set(i, 7).unwrap();
            }
        });
        run_all(&[p]);
        assert_eq!(plain, [0, 0, 0]); // S3-9: the child changed its own copy
        assert_eq!(shared.to_vec(), [7, 7, 7]);
    });
}
