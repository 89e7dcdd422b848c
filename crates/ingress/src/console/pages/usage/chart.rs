//! The usage chart's geometry, pure: per day two bars (records read, records written) scaled to a
//! rounded maximum, with the y axis's ticks and the x axis's date labels, all as numbers the page
//! writes into SVG attributes (`x`, `y`, `width`, `height`: the CSP allows no style attribute).

use chrono::NaiveDate;

/// The drawing's size in SVG units (the SVG scales to its box).
pub const WIDTH: f64 = 720.0;
pub const HEIGHT: f64 = 240.0;
/// Room for the y labels (left) and the x labels (bottom).
const LEFT: f64 = 48.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 28.0;
/// The most x labels drawn: every n-th day, counted back from the last (today).
const MAX_X_LABELS: usize = 8;

/// What a bar counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Series {
    Read,
    Written,
}

impl Series {
    pub const ALL: [Series; 2] = [Series::Read, Series::Written];

    pub fn label(self) -> &'static str {
        match self {
            Series::Read => "records read",
            Series::Written => "records written",
        }
    }

    /// The CSS class that colours its bars.
    pub fn class(self) -> &'static str {
        match self {
            Series::Read => "bar read",
            Series::Written => "bar written",
        }
    }
}

/// One day's figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayPoint {
    pub date: NaiveDate,
    pub read: i64,
    pub written: i64,
}

impl DayPoint {
    fn value(&self, s: Series) -> i64 {
        match s {
            Series::Read => self.read,
            Series::Written => self.written,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub series: Series,
    pub date: NaiveDate,
    pub value: i64,
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    pub value: i64,
    pub y: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct XLabel {
    pub text: String,
    pub x: f64,
}

/// Everything the SVG draws.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// The y axis's top value (a round number ≥ every value).
    pub max: i64,
    pub bars: Vec<Bar>,
    pub ticks: Vec<Tick>,
    pub x_labels: Vec<XLabel>,
    /// The plot area: left edge, bottom (the x axis), right edge, top.
    pub left: f64,
    pub bottom: f64,
    pub right: f64,
    pub top: f64,
}

/// The smallest of 2, 4, 10, 20, 40, 100, … at least `v` (so the half tick is a whole number).
pub fn nice_max(v: i64) -> i64 {
    let mut scale: i64 = 1;
    loop {
        for step in [2_i64, 4, 10] {
            let candidate = step.saturating_mul(scale);
            if candidate >= v {
                return candidate;
            }
        }
        if scale > i64::MAX / 100 {
            return i64::MAX;
        }
        scale *= 10;
    }
}

/// The chart of `days` (oldest first).
pub fn layout(days: &[DayPoint]) -> Chart {
    let (left, right, top, bottom) = (LEFT, WIDTH - RIGHT, TOP, HEIGHT - BOTTOM);
    let plot_h = bottom - top;
    let top_value = days
        .iter()
        .flat_map(|d| [d.read, d.written])
        .max()
        .unwrap_or(0)
        .max(0);
    let max = nice_max(top_value);
    let slot = if days.is_empty() {
        0.0
    } else {
        (right - left) / days.len() as f64
    };
    let bar_w = slot * 0.8 / Series::ALL.len() as f64;
    let mut bars = Vec::with_capacity(days.len() * Series::ALL.len());
    for (i, d) in days.iter().enumerate() {
        let slot_x = left + slot * i as f64 + slot * 0.1;
        for (j, s) in Series::ALL.into_iter().enumerate() {
            let value = d.value(s).max(0);
            let height = plot_h * value as f64 / max as f64;
            bars.push(Bar {
                series: s,
                date: d.date,
                value,
                x: slot_x + bar_w * j as f64,
                y: bottom - height,
                width: bar_w,
                height,
            });
        }
    }
    let ticks = [0, max / 2, max]
        .into_iter()
        .map(|value| Tick {
            value,
            y: bottom - plot_h * value as f64 / max as f64,
        })
        .collect();
    let every = days.len().div_ceil(MAX_X_LABELS).max(1);
    let mut x_labels: Vec<XLabel> = (0..days.len())
        .rev()
        .step_by(every)
        .map(|i| XLabel {
            text: days[i].date.format("%b %-d").to_string(),
            x: left + slot * i as f64 + slot / 2.0,
        })
        .collect();
    x_labels.reverse();
    Chart {
        max,
        bars,
        ticks,
        x_labels,
        left,
        bottom,
        right,
        top,
    }
}

/// A coordinate as an SVG attribute (two decimals at most).
pub fn coord(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(n: u32, read: i64, written: i64) -> DayPoint {
        DayPoint {
            date: NaiveDate::from_ymd_opt(2026, 3, n).unwrap(),
            read,
            written,
        }
    }

    #[test]
    fn the_axis_top_is_a_round_number_with_a_whole_half() {
        let cases = [
            (0, 2),
            (1, 2),
            (2, 2),
            (3, 4),
            (5, 10),
            (11, 20),
            (999, 1000),
            (1000, 1000),
            (1001, 2000),
            (3500, 4000),
        ];
        for (v, want) in cases {
            assert_eq!(nice_max(v), want, "{v}");
            assert_eq!(nice_max(v) % 2, 0);
        }
        assert!(nice_max(i64::MAX) >= i64::MAX / 2);
    }

    #[test]
    fn bars_scale_to_the_axis_and_stand_on_it() {
        let c = layout(&[day(1, 1000, 250), day(2, 0, 0), day(3, 500, 1000)]);
        assert_eq!(c.max, 1000);
        assert_eq!(c.bars.len(), 6);
        let plot_h = c.bottom - c.top;
        let full = &c.bars[0];
        assert_eq!((full.series, full.value), (Series::Read, 1000));
        assert!((full.height - plot_h).abs() < 1e-9);
        assert!((full.y - c.top).abs() < 1e-9);
        let quarter = &c.bars[1];
        assert!((quarter.height - plot_h / 4.0).abs() < 1e-9);
        for b in &c.bars {
            assert!((b.y + b.height - c.bottom).abs() < 1e-9, "on the x axis");
            assert!(b.x >= c.left && b.x + b.width <= c.right + 1e-9, "inside");
            assert!(b.width > 0.0);
        }
        assert_eq!(c.bars[2].height, 0.0);
        // Left to right, day by day, without overlapping.
        for pair in c.bars.windows(2) {
            assert!(pair[0].x + pair[0].width <= pair[1].x + 1e-9);
        }
        let ticks: Vec<i64> = c.ticks.iter().map(|t| t.value).collect();
        assert_eq!(ticks, [0, 500, 1000]);
        assert!((c.ticks[1].y - (c.bottom - plot_h / 2.0)).abs() < 1e-9);
    }

    #[test]
    fn nothing_used_draws_flat_bars_and_no_day_draws_none() {
        let c = layout(&[day(1, 0, 0)]);
        assert_eq!(c.max, 2);
        assert!(c.bars.iter().all(|b| b.height == 0.0));
        let c = layout(&[]);
        assert!(c.bars.is_empty() && c.x_labels.is_empty());
    }

    #[test]
    fn a_month_gets_a_few_evenly_spaced_date_labels_ending_on_the_last_day() {
        let days: Vec<DayPoint> = (1..=30).map(|n| day(n, n.into(), 0)).collect();
        let c = layout(&days);
        assert!(c.x_labels.len() <= MAX_X_LABELS, "{}", c.x_labels.len());
        assert_eq!(c.x_labels[0].text, "Mar 2");
        assert_eq!(c.x_labels.last().map(|l| l.text.as_str()), Some("Mar 30"));
    }

    #[test]
    fn coordinates_are_short() {
        assert_eq!(coord(12.0), "12");
        assert_eq!(coord(12.5), "12.5");
        assert_eq!(coord(1.0 / 3.0), "0.33");
    }
}
