//! IPython's way of writing durations (`_format_time`) and C's `%g`.

use std::time::Duration;

/// Writes a duration the way IPython's `%time` and `%timeit` do (`_format_time`).
///
/// Three significant digits and the largest unit that keeps the number at least 1: `s`,
/// `ms`, `µs` or `ns`; from one minute on, whole units such as `1min 5s` or `1h 2min 3s`.
///
/// # Examples
///
/// ```
/// use paralelo::timing::format_time;
/// use std::time::Duration;
///
/// assert_eq!(format_time(Duration::from_millis(640)), "640 ms");
/// assert_eq!(format_time(Duration::from_secs_f64(1.2134)), "1.21 s");
/// assert_eq!(format_time(Duration::from_micros(8_200)), "8.2 ms");
/// assert_eq!(format_time(Duration::from_nanos(1_500)), "1.5 µs");
/// assert_eq!(format_time(Duration::from_secs(65)), "1min 5s");
/// ```
pub fn format_time(duration: Duration) -> String {
    format_seconds(duration.as_secs_f64(), 3)
}

/// [`format_time`] for seconds as a float, with a chosen number of significant digits.
///
/// # Examples
///
/// ```
/// use paralelo::timing::format_seconds;
///
/// assert_eq!(format_seconds(0.3721, 4), "372.1 ms");
/// assert_eq!(format_seconds(0.0, 3), "0 ns");
/// ```
pub fn format_seconds(seconds: f64, precision: usize) -> String {
    if seconds >= 60.0 {
        return format_long(seconds);
    }
    const UNITS: [&str; 4] = ["s", "ms", "µs", "ns"];
    const SCALE: [f64; 4] = [1.0, 1e3, 1e6, 1e9];
    let order = if seconds > 0.0 {
        let exponent = seconds.log10().floor() as i64;
        (-exponent.div_euclid(3)).clamp(0, 3) as usize
    } else {
        3
    };
    format!(
        "{} {}",
        format_g(seconds * SCALE[order], precision),
        UNITS[order]
    )
}

/// `1d 2h 3min 4s`: whole units, stopping once less than a second is left.
fn format_long(seconds: f64) -> String {
    const PARTS: [(&str, f64); 4] = [("d", 86_400.0), ("h", 3_600.0), ("min", 60.0), ("s", 1.0)];
    let mut parts = Vec::new();
    let mut left = seconds;
    for (suffix, length) in PARTS {
        let value = (left / length).trunc();
        if value > 0.0 {
            left %= length;
            parts.push(format!("{value}{suffix}"));
        }
        if left < 1.0 {
            break;
        }
    }
    parts.join(" ")
}

/// C's and Python's `%.{precision}g`: `precision` significant digits, trailing zeros
/// dropped, scientific notation for very large or small numbers.
pub(crate) fn format_g(value: f64, precision: usize) -> String {
    let precision = precision.max(1);
    if value == 0.0 {
        return "0".to_owned();
    }
    if !value.is_finite() {
        return value.to_string();
    }
    // Rounded to the significant digits first: the exponent is the rounded number's.
    let scientific = format!("{:.*e}", precision - 1, value);
    let (mantissa, exponent) = scientific
        .split_once('e')
        .expect("{:e} always has an exponent");
    let exponent: i32 = exponent.parse().expect("{:e} exponent is an integer");
    if exponent < -4 || exponent >= precision as i32 {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim_zeros(mantissa), exponent.abs())
    } else {
        let decimals = (precision as i32 - 1 - exponent).max(0) as usize;
        trim_zeros(&format!("{value:.decimals$}")).to_owned()
    }
}

fn trim_zeros(number: &str) -> &str {
    if number.contains('.') {
        number.trim_end_matches('0').trim_end_matches('.')
    } else {
        number
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g_matches_python() {
        // Expected values printed by CPython's "%.3g" % x.
        let cases = [
            (1.2134, "1.21"),
            (640.0, "640"),
            (8.2, "8.2"),
            (999.6, "1e+03"),
            (12345.0, "1.23e+04"),
            (0.5, "0.5"),
            (0.00001234, "1.23e-05"),
            (0.0001234, "0.000123"),
            (100.0, "100"),
            (1.0, "1"),
        ];
        for (x, want) in cases {
            assert_eq!(format_g(x, 3), want, "%.3g of {x}");
        }
    }

    #[test]
    fn seconds_match_ipython() {
        // Expected values printed by IPython's _format_time.
        let cases = [
            (0.64, "640 ms"),
            (1.2134, "1.21 s"),
            (0.0082, "8.2 ms"),
            (0.001, "1 ms"),
            (5e-10, "0.5 ns"),
            (59.99, "60 s"),
            (3725.5, "1h 2min 5s"),
            (60.0, "1min"),
            (90.659429, "1min 30s"),
            (86400.0 * 2.0 + 1.0, "2d 1s"),
        ];
        for (x, want) in cases {
            assert_eq!(format_seconds(x, 3), want, "_format_time({x})");
        }
    }
}
