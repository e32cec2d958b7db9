//! The dashboard's charts, drawn here as SVG from the analytics rollup: the last hour, per
//! minute, for every delivery or only an endpoint's or a type's.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::analytics::Figures;
use crate::store::{StatsGrouping, StatsRow, Store, StoreError};

/// Minutes a chart shows.
const MINUTES: usize = 60;
const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 180.0;
const LEFT: f64 = 44.0;
const TOP: f64 = 26.0;
const BOTTOM: f64 = 22.0;

/// What a chart shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Metric {
    /// Attempts per minute: delivered, and failed.
    Rate,
    /// p50 and p95 latency per minute.
    Latency,
    /// Failed attempts and dead letters per minute.
    Failures,
}

impl Metric {
    pub(super) fn parse(name: &str) -> Option<Metric> {
        match name {
            "rate" => Some(Metric::Rate),
            "latency" => Some(Metric::Latency),
            "failures" => Some(Metric::Failures),
            _ => None,
        }
    }
}

/// One series: its name, colour, values per minute, and whether it is drawn as bars.
struct Series {
    name: &'static str,
    colour: &'static str,
    values: Vec<f64>,
    bars: bool,
}

fn add(into: &mut StatsRow, row: &StatsRow) {
    into.attempts += row.attempts;
    into.sent += row.sent;
    into.retried += row.retried;
    into.dead_letter += row.dead_letter;
    into.duration_ms += row.duration_ms;
    for (a, b) in into.buckets.iter_mut().zip(row.buckets.iter()) {
        *a += b;
    }
}

/// The chart of `metric` over the hour before `now`, of the deliveries to `endpoint` and of
/// `webhook` when given.
pub(super) async fn render<S: Store>(
    store: &S,
    metric: Metric,
    endpoint: Option<Uuid>,
    webhook: Option<&str>,
    now: DateTime<Utc>,
) -> Result<String, StoreError> {
    let until =
        DateTime::from_timestamp(now.timestamp().div_euclid(60) * 60 + 60, 0).unwrap_or(now);
    let since = until - chrono::Duration::minutes(MINUTES as i64);
    let rows = store
        .delivery_stats(
            since,
            until,
            StatsGrouping {
                period_secs: Some(60),
                webhook: true,
                endpoint: true,
            },
        )
        .await?;
    let endpoint = endpoint.map(|e| e.to_string());
    let mut minutes = vec![StatsRow::default(); MINUTES];
    for row in &rows {
        if endpoint
            .as_ref()
            .is_some_and(|e| row.endpoint.as_ref() != Some(e))
            || webhook.is_some_and(|w| row.webhook_type.as_deref() != Some(w))
        {
            continue;
        }
        let Some(at) = row.period else { continue };
        let k = (at - since).num_minutes();
        if let Some(slot) = usize::try_from(k).ok().and_then(|k| minutes.get_mut(k)) {
            add(slot, row);
        }
    }
    let figures: Vec<Figures> = minutes.iter().map(Figures::of).collect();
    let series = match metric {
        Metric::Rate => vec![
            Series {
                name: "delivered",
                colour: "#2e7d32",
                values: figures.iter().map(|f| f.sent as f64).collect(),
                bars: true,
            },
            Series {
                name: "failed",
                colour: "#c62828",
                values: figures
                    .iter()
                    .map(|f| (f.retried + f.dead_letter) as f64)
                    .collect(),
                bars: true,
            },
        ],
        Metric::Latency => vec![
            Series {
                name: "p50 ms",
                colour: "#1565c0",
                values: figures.iter().map(|f| f.p50_ms.unwrap_or(0.0)).collect(),
                bars: false,
            },
            Series {
                name: "p95 ms",
                colour: "#ef6c00",
                values: figures.iter().map(|f| f.p95_ms.unwrap_or(0.0)).collect(),
                bars: false,
            },
        ],
        Metric::Failures => vec![
            Series {
                name: "retried",
                colour: "#ef6c00",
                values: figures.iter().map(|f| f.retried as f64).collect(),
                bars: true,
            },
            Series {
                name: "dead letters",
                colour: "#c62828",
                values: figures.iter().map(|f| f.dead_letter as f64).collect(),
                bars: true,
            },
        ],
    };
    let title = match metric {
        Metric::Rate => "Attempts per minute",
        Metric::Latency => "Latency per minute",
        Metric::Failures => "Failures per minute",
    };
    Ok(svg(title, &series))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Draws `series` (bars stacked, lines over them) on one axis.
fn svg(title: &str, series: &[Series]) -> String {
    let plot_w = WIDTH - LEFT - 8.0;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let stacked = |k: usize| {
        series
            .iter()
            .filter(|s| s.bars)
            .map(|s| s.values[k])
            .sum::<f64>()
    };
    let highest = (0..MINUTES)
        .map(stacked)
        .chain(
            series
                .iter()
                .filter(|s| !s.bars)
                .flat_map(|s| s.values.iter().copied()),
        )
        .fold(0.0_f64, f64::max);
    let top = if highest <= 0.0 { 1.0 } else { highest };
    let step = plot_w / MINUTES as f64;
    let y = |v: f64| TOP + plot_h - v / top * plot_h;
    let mut out = String::new();
    let _ = write!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{t}"><title>{t}</title><rect width="100%" height="100%" fill="#fff"/><text x="{LEFT}" y="16" font-family="sans-serif" font-size="13" fill="#222">{t}</text>"##,
        t = escape(title)
    );
    let mut legend_x = WIDTH - 8.0;
    for s in series.iter().rev() {
        let label = escape(s.name);
        legend_x -= 8.0 + 7.0 * label.len() as f64;
        let _ = write!(
            out,
            r##"<rect x="{lx:.1}" y="7" width="10" height="10" fill="{c}"/><text x="{tx:.1}" y="16" font-family="sans-serif" font-size="11" fill="#444">{label}</text>"##,
            lx = legend_x - 14.0,
            tx = legend_x,
            c = s.colour
        );
        legend_x -= 18.0;
    }
    // Axes, the top value and the time marks.
    let _ = write!(
        out,
        r##"<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{b}" stroke="#999"/><line x1="{LEFT}" y1="{b}" x2="{r}" y2="{b}" stroke="#999"/><text x="{lx}" y="{ty}" font-family="sans-serif" font-size="10" fill="#666" text-anchor="end">{top}</text><text x="{lx}" y="{b}" font-family="sans-serif" font-size="10" fill="#666" text-anchor="end">0</text>"##,
        b = TOP + plot_h,
        r = LEFT + plot_w,
        lx = LEFT - 4.0,
        ty = TOP + 8.0,
        top = if top >= 100.0 {
            format!("{top:.0}")
        } else {
            format!("{top:.1}")
        }
    );
    for (k, label) in [(0, "-60 min"), (30, "-30 min"), (MINUTES, "now")] {
        let _ = write!(
            out,
            r##"<text x="{x:.1}" y="{y}" font-family="sans-serif" font-size="10" fill="#666" text-anchor="middle">{label}</text>"##,
            x = LEFT + k as f64 * step,
            y = HEIGHT - 6.0
        );
    }
    for k in 0..MINUTES {
        let mut base = 0.0;
        for s in series.iter().filter(|s| s.bars) {
            let v = s.values[k];
            if v > 0.0 {
                let _ = write!(
                    out,
                    r##"<rect x="{x:.1}" y="{y0:.1}" width="{w:.1}" height="{h:.1}" fill="{c}"><title>{v}</title></rect>"##,
                    x = LEFT + k as f64 * step + 0.5,
                    y0 = y(base + v),
                    w = (step - 1.0).max(1.0),
                    h = y(base) - y(base + v),
                    c = s.colour
                );
            }
            base += v;
        }
    }
    for s in series.iter().filter(|s| !s.bars) {
        let points: Vec<String> = s
            .values
            .iter()
            .enumerate()
            .map(|(k, v)| format!("{:.1},{:.1}", LEFT + (k as f64 + 0.5) * step, y(*v)))
            .collect();
        let _ = write!(
            out,
            r##"<polyline fill="none" stroke="{c}" stroke-width="2" points="{p}"/>"##,
            c = s.colour,
            p = points.join(" ")
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_stack_to_the_top_value() {
        let mut delivered = vec![0.0; MINUTES];
        let mut failed = vec![0.0; MINUTES];
        delivered[59] = 3.0;
        failed[59] = 1.0;
        let svg = svg(
            "Attempts <per> minute",
            &[
                Series {
                    name: "delivered",
                    colour: "#2e7d32",
                    values: delivered,
                    bars: true,
                },
                Series {
                    name: "failed",
                    colour: "#c62828",
                    values: failed,
                    bars: true,
                },
            ],
        );
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.contains("<title>Attempts &lt;per&gt; minute</title>"));
        // The stack reaches 4, the axis's top value; each bar is titled with its value.
        assert!(svg.contains(">4.0</text>"), "{svg}");
        assert_eq!(svg.matches("<title>3</title>").count(), 1);
        assert_eq!(svg.matches("<title>1</title>").count(), 1);
        assert!(svg.ends_with("</svg>"));
    }
}
