//! Timing tables: the numbers they compute and how they print.

use std::time::Duration;

use paralelo::prelude::*;

fn sample() -> TimingTable {
    let mut t = TimingTable::new("Factoriales");
    t.reference_label("Python (documento)");
    t.row("un hilo")
        .reference_secs(0.3721)
        .wall(Duration::from_millis(40));
    t.row("dos hilos")
        .workers(2)
        .reference_secs(0.4132)
        .wall(Duration::from_millis(25));
    t
}

#[test]
fn speedup_and_efficiency_are_against_the_baseline() {
    let t = sample();
    let close = |got: Option<f64>, want: f64| got.is_some_and(|g| (g - want).abs() < 1e-9);
    assert!(close(t.speedup("un hilo"), 1.0));
    assert!(
        close(t.speedup("dos hilos"), 1.6),
        "{:?}",
        t.speedup("dos hilos")
    );
    assert!(close(t.efficiency("dos hilos"), 0.8));
    assert_eq!(t.speedup("no existe"), None);
}

#[test]
fn text_has_every_column_and_value() {
    let text = sample().to_string();
    for needle in [
        "Factoriales",
        "Variant",
        "Workers",
        "Wall",
        "CPU",
        "Speedup",
        "Efficiency",
        "Python (documento)",
        "40 ms",
        "25 ms",
        "1.60×",
        "80 %",
        "372 ms",
        "413 ms",
        "9.3×",
        "16.5×",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
}

#[test]
fn without_references_there_is_no_reference_column() {
    let mut t = TimingTable::new("t");
    t.row("a").wall(Duration::from_millis(1));
    assert!(!t.to_string().contains("Reference"));
}

#[test]
fn measured_rows_have_cpu_time() {
    let mut t = TimingTable::new("t");
    let v = t.row("suma").measure(|| (0..1000u64).sum::<u64>());
    assert_eq!(v, 499_500);
    assert!(t.rows()[0].cpu.is_some());
}

#[test]
fn html_is_a_table_with_escaped_text() {
    let mut t = sample();
    t.row("<b>&</b>").wall(Duration::from_millis(1));
    let html = t.to_html();
    assert!(html.starts_with("<table") && html.ends_with("</table>"));
    assert!(html.contains("<caption"));
    assert!(html.contains("&lt;b&gt;&amp;&lt;/b&gt;"));
    assert_eq!(html.matches("<tr>").count(), 4); // header and three rows
}
