//! `par_map`: order, errors, and use from any thread.

use paralelo::prelude::*;

#[test]
fn keeps_input_order_over_many_items() {
    let got = par_map(|x: u64| x * 3, 0..100_000u64).unwrap();
    assert!(got.iter().enumerate().all(|(i, &v)| v == 3 * i as u64));
}

#[test]
fn takes_vectors_slices_and_references() {
    let v = vec![1, 2, 3];
    assert_eq!(par_map(|x: &i32| x + 1, &v).unwrap(), [2, 3, 4]);
    assert_eq!(par_map(|x: &i32| x * 2, &v[1..]).unwrap(), [4, 6]);
    assert_eq!(par_map(|x: i32| x - 1, v).unwrap(), [0, 1, 2]);
}

#[test]
fn a_panic_is_an_error_with_its_message_and_nothing_aborts() {
    let err = par_map(
        |x: u32| if x == 77 { panic!("x = {x}") } else { x },
        0..1000u32,
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TaskPanicked);
    assert!(err.to_string().contains("x = 77"), "{err}");
    assert_eq!(par_map(|x: u32| x, 0..3u32).unwrap(), [0, 1, 2]);
}

#[test]
fn works_from_other_threads_at_once() {
    let handles: Vec<_> = (0..4u64)
        .map(|t| std::thread::spawn(move || par_map(move |x: u64| x + t, 0..1000u64).unwrap()))
        .collect();
    for (t, h) in handles.into_iter().enumerate() {
        let got = h.join().unwrap();
        assert_eq!(got[999], 999 + t as u64);
    }
}

#[test]
fn starmap_and_for_each() {
    assert_eq!(
        par_starmap(|a: u8, b: u8| a + b, vec![(1, 2), (3, 4)]).unwrap(),
        [3, 7]
    );
    let sum = std::sync::atomic::AtomicU64::new(0);
    let add = |x: u64| {
        sum.fetch_add(x, std::sync::atomic::Ordering::Relaxed);
    };
    par_for_each(add, 1..=10u64).unwrap();
    assert_eq!(sum.into_inner(), 55);
}

#[test]
fn big_factorials_match_sequential_ones() {
    // Document 003, S3-5: the parallel results equal the sequential ones, element by element.
    fn factorial(x: u64) -> BigUint {
        (1..=x).map(BigUint::from).product()
    }
    let parallel = par_map(factorial, 1000..1100u64).unwrap();
    let sequential: Vec<BigUint> = (1000..1100u64).map(factorial).collect();
    assert_eq!(parallel, sequential);
}
