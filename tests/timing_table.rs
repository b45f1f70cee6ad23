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

#[test]
fn short_work_runs_until_a_fifth_of_a_second_at_most_seven_times() {
    let mut t = TimingTable::new("t");
    let mut calls = 0;
    t.row("30 ms").measure(|| {
        calls += 1;
        std::thread::sleep(Duration::from_millis(30));
    });
    // 7 runs of ≥ 30 ms add up to ≥ 0.2 s: 7 runs, unless some run was slow.
    let row = &t.rows()[0];
    assert_eq!(row.runs.len(), calls);
    assert!((1..=7).contains(&calls), "{calls} runs");
    assert!(row.runs.iter().sum::<Duration>() >= Duration::from_millis(200) || calls == 7);
    assert!(row.min() <= row.wall && row.wall <= row.max());

    let mut instant = 0;
    t.row("instant").measure(|| instant += 1);
    assert_eq!(instant, 7, "work far under 0.2 s runs 7 times");
}

#[test]
fn long_work_runs_once_and_measure_once_runs_once() {
    let mut t = TimingTable::new("t");
    let mut calls = 0;
    t.row("largo").measure(|| {
        calls += 1;
        std::thread::sleep(Duration::from_millis(210));
    });
    assert_eq!(calls, 1);
    let mut once = 0;
    t.row("una vez").measure_once(|| once += 1);
    assert_eq!(once, 1);
    assert_eq!(t.rows()[1].runs.len(), 1);
}

#[test]
fn medians_and_spread_are_shown_and_speedup_uses_medians() {
    let mut t = TimingTable::new("t");
    // Fake runs through measurements: the median is what counts.
    let mut durations = [100u64, 50, 120].into_iter();
    t.row("base")
        .measure(|| std::thread::sleep(Duration::from_millis(durations.next().unwrap_or(1))));
    let row = t.rows()[0].clone();
    assert_eq!(row.runs.len(), 3, "100 + 50 ms < 0.2 s ≤ 100 + 50 + 120 ms");
    assert!(row.wall >= Duration::from_millis(100) && row.wall < Duration::from_millis(120));
    let text = t.to_string();
    for needle in ["Runs", "Min–max", "medians of the runs"] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    assert!(t.to_html().contains("Min–max"));
    t.row("mitad").workers(2).wall(row.wall / 2);
    assert!((t.speedup("mitad").unwrap() - 2.0).abs() < 1e-6);
}

#[test]
fn spanish_headers_and_notes() {
    let mut t = sample();
    t.language("es");
    t.row("tres").workers(3).measure(|| 1 + 1);
    let text = t.to_string();
    for needle in [
        "Variante",
        "Trabajadores",
        "Tiempo real",
        "Ejecuciones",
        "Mín–máx",
        "Aceleración",
        "Eficiencia",
        "Referencia ÷ tiempo real",
        "medianas de las ejecuciones",
        "1,60×",
        "9,3×",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    assert!(!text.contains("Speedup"));
}

#[test]
fn the_html_carries_the_figures_as_json() {
    let t = sample();
    let html = t.to_html();
    let start = html.find("data-paralelo-timing=\"").unwrap() + "data-paralelo-timing=\"".len();
    let end = start + html[start..].find('"').unwrap();
    let json: serde_json::Value = serde_json::from_str(
        &html[start..end]
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
    .unwrap();
    assert_eq!(json["rows"].as_array().map(Vec::len), Some(2));
    assert_eq!(json["title"], "Factoriales");
    assert_eq!(json["rows"][1]["name"], "dos hilos");
    assert!((json["rows"][1]["speedup"].as_f64().unwrap() - 1.6).abs() < 1e-9);
    assert_eq!(json["rows"][1]["busy"], false);
}

#[test]
fn the_chart_has_wall_bars_and_speedups_against_the_ideal() {
    let mut t = TimingTable::new("Escala");
    t.language("es");
    t.row("1 trabajador").wall(Duration::from_millis(400));
    t.row("2 trabajadores")
        .workers(2)
        .wall(Duration::from_millis(250));
    let chart = t.plot().to_string();
    assert!(
        chart.contains("Tiempo real") && chart.contains("Aceleración"),
        "{chart}"
    );
    assert!(chart.contains("1,60×") && chart.contains('┊'), "{chart}");
    // The longest bar is the slowest row's.
    let bars: Vec<usize> = chart
        .lines()
        .skip(2)
        .take(2)
        .map(|l| l.matches('█').count())
        .collect();
    assert!(bars[0] > bars[1], "{chart}");
}
