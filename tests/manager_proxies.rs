//! `Manager().list()` and `dict()` shared with forked children (S2-13), and a clear error
//! once the manager is gone.

mod process_util;

use std::time::Duration;

use paralelo::prelude::*;
use process_util::in_child;

#[test]
fn a_child_appends_to_the_parents_list() {
    in_child(30, || {
        let manager = Manager::new().unwrap();
        let shared = manager.list::<i32>().unwrap();
        let child_copy = shared.clone();
        let p = Process::new(move || child_copy.append(1).unwrap());
        p.start().unwrap();
        p.join().unwrap();
        assert_eq!(p.exitcode(), Some(0));
        assert_eq!(shared.to_vec().unwrap(), [1]);
    });
}

#[test]
fn many_children_fill_a_dict() {
    in_child(60, || {
        let manager = Manager::new().unwrap();
        let d = manager.dict::<u32, String>().unwrap();
        let procs: Vec<Process> = (0..5u32)
            .map(|i| {
                let d = d.clone();
                Process::new(move || d.insert(i, format!("proceso {i}")).unwrap())
            })
            .collect();
        procs.iter().for_each(|p| p.start().unwrap());
        for p in &procs {
            assert!(p.join_timeout(Duration::from_secs(20)).unwrap());
            assert_eq!(p.exitcode(), Some(0));
        }
        assert_eq!(d.len().unwrap(), 5);
        assert_eq!(d.get(&3).unwrap().as_deref(), Some("proceso 3"));
        assert!(d.contains_key(&4).unwrap());
        assert_eq!(d.remove(&4).unwrap().as_deref(), Some("proceso 4"));
        assert_eq!(d.get(&4).unwrap(), None);
    });
}

#[test]
fn list_operations_and_errors() {
    let manager = Manager::new().unwrap();
    let l = manager.list::<String>().unwrap();
    assert!(l.is_empty().unwrap());
    l.append("a".into()).unwrap();
    l.append("b".into()).unwrap();
    l.set(0, "z".into()).unwrap();
    assert_eq!(l.get(0).unwrap(), "z");
    assert_eq!(l.get(5).unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(l.pop().unwrap().as_deref(), Some("b"));
    assert_eq!(l.len().unwrap(), 1);
}

#[test]
fn a_proxy_of_a_gone_manager_fails_clearly() {
    let manager = Manager::new().unwrap();
    let l = manager.list::<u8>().unwrap();
    l.append(1).unwrap(); // connected
    let fresh = l.clone(); // not yet connected
    drop(manager);
    let err = l.append(2).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Disconnected, "{err}");
    assert!(err.to_string().contains("manager is gone"), "{err}");
    assert_eq!(fresh.len().unwrap_err().kind(), ErrorKind::Disconnected);
}
