//! Time-series charts as SVG: lines (with an optional low-high band) and stacked bars. A missing
//! value is a gap in its line or a missing bar segment, never a zero; a year with a missing
//! segment is marked.

use std::fmt::Write;

use crate::svg::{esc, px};

/// One line (or stacked segment) of a chart.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub colour: String,
    /// (year, value); None where the value is unknown.
    pub points: Vec<(i32, Option<f64>)>,
    /// (year, low, high): the range drawn as a band behind the line.
    pub band: Vec<(i32, f64, f64)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Lines,
    StackedBars,
}

/// A chart: its id (the SVG file name), title, unit, series and how to draw them.
#[derive(Debug, Clone)]
pub struct Chart {
    pub id: String,
    pub title: String,
    pub unit: String,
    pub kind: Kind,
    /// Values are shares (0..1): the axis shows percent.
    pub percent: bool,
    pub series: Vec<Series>,
    pub first_year: i32,
    pub last_year: i32,
}

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 300.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 150.0;
const TOP: f64 = 34.0;
const BOTTOM: f64 = 34.0;

impl Chart {
    fn value_range(&self) -> (f64, f64) {
        let mut low: f64 = 0.0;
        let mut high: f64 = 0.0;
        match self.kind {
            Kind::Lines => {
                for series in &self.series {
                    for value in series.points.iter().filter_map(|p| p.1) {
                        low = low.min(value);
                        high = high.max(value);
                    }
                    for (_, band_low, band_high) in &series.band {
                        low = low.min(*band_low);
                        high = high.max(*band_high);
                    }
                }
            }
            Kind::StackedBars => {
                for year in self.first_year..=self.last_year {
                    let total: f64 = self.series.iter().filter_map(|s| value_at(s, year)).filter(|v| *v > 0.0).sum();
                    high = high.max(total);
                }
            }
        }
        if high <= low {
            high = low + 1.0;
        }
        (low, high)
    }

    /// The chart as a standalone SVG document.
    pub fn to_svg(&self) -> String {
        let (low, high) = self.value_range();
        let step = nice_step((high - low) / 5.0);
        let (axis_low, axis_high) = ((low / step).floor() * step, (high / step).ceil() * step);
        let plot_width = WIDTH - LEFT - RIGHT;
        let plot_height = HEIGHT - TOP - BOTTOM;
        let years = (self.last_year - self.first_year).max(1) as f64;
        let x = |year: i32| LEFT + (year - self.first_year) as f64 / years * plot_width;
        let y = |value: f64| TOP + (axis_high - value) / (axis_high - axis_low) * plot_height;
        let label = |value: f64| {
            if self.percent { format!("{:.0}%", value * 100.0) } else { crate::svg::tonnes(value) }
        };

        let mut svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" id=\"{}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" width=\"{WIDTH}\" height=\"{HEIGHT}\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"11\">\n",
            esc(&self.id)
        );
        let _ = writeln!(svg, "<title>{}</title>", esc(&self.title));
        let _ = writeln!(svg, "<rect width=\"{WIDTH}\" height=\"{HEIGHT}\" fill=\"#ffffff\"/>");
        let _ = writeln!(
            svg,
            "<text x=\"{LEFT}\" y=\"18\" font-size=\"13\" font-weight=\"bold\">{}</text>",
            esc(&self.title)
        );
        let _ = writeln!(
            svg,
            "<text x=\"{}\" y=\"18\" text-anchor=\"end\" fill=\"#555\">{}</text>",
            px(WIDTH - RIGHT),
            esc(&self.unit)
        );
        // Grid and axes.
        let mut tick = axis_low;
        while tick <= axis_high + step / 2.0 {
            let ty = px(y(tick));
            let colour = if tick.abs() < step / 1e6 { "#444" } else { "#ddd" };
            let _ = writeln!(
                svg,
                "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{ty}\" y2=\"{ty}\" stroke=\"{colour}\"/>",
                px(LEFT + plot_width)
            );
            let _ = writeln!(
                svg,
                "<text x=\"{}\" y=\"{ty}\" dy=\"4\" text-anchor=\"end\">{}</text>",
                px(LEFT - 6.0),
                label(tick)
            );
            tick += step;
        }
        let year_step = if years > 30.0 {
            5
        } else if years > 12.0 {
            2
        } else {
            1
        };
        for year in (self.first_year..=self.last_year).filter(|y| y % year_step == 0) {
            let _ = writeln!(
                svg,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{year}</text>",
                px(x(year)),
                px(TOP + plot_height + 16.0)
            );
        }
        match self.kind {
            Kind::Lines => self.draw_lines(&mut svg, &x, &y),
            Kind::StackedBars => self.draw_bars(&mut svg, &x, &y, plot_width / (years + 1.0)),
        }
        // Legend.
        for (index, series) in self.series.iter().enumerate() {
            let ly = TOP + 6.0 + index as f64 * 16.0;
            let lx = WIDTH - RIGHT + 14.0;
            let _ = writeln!(
                svg,
                "<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"10\" fill=\"{}\"/><text x=\"{}\" y=\"{}\">{}</text>",
                px(lx),
                px(ly - 9.0),
                series.colour,
                px(lx + 17.0),
                px(ly),
                esc(&series.name)
            );
        }
        svg.push_str("</svg>\n");
        svg
    }

    fn draw_lines(&self, svg: &mut String, x: &dyn Fn(i32) -> f64, y: &dyn Fn(f64) -> f64) {
        for series in &self.series {
            if !series.band.is_empty() {
                // The band, one polygon per run of consecutive years.
                for run in runs(series.band.iter().map(|b| b.0).collect()) {
                    let band: Vec<&(i32, f64, f64)> = series.band.iter().filter(|b| run.contains(&b.0)).collect();
                    let mut points: Vec<String> =
                        band.iter().map(|b| format!("{},{}", px(x(b.0)), px(y(b.2)))).collect();
                    points.extend(band.iter().rev().map(|b| format!("{},{}", px(x(b.0)), px(y(b.1)))));
                    let _ = writeln!(
                        svg,
                        "<polygon class=\"band\" data-series=\"{}\" points=\"{}\" fill=\"{}\" fill-opacity=\"0.18\" stroke=\"none\"/>",
                        esc(&series.name),
                        points.join(" "),
                        series.colour
                    );
                }
            }
            let known: Vec<i32> = series.points.iter().filter(|p| p.1.is_some()).map(|p| p.0).collect();
            for run in runs(known) {
                let points: Vec<String> = run
                    .iter()
                    .filter_map(|year| value_at(series, *year).map(|v| format!("{},{}", px(x(*year)), px(y(v)))))
                    .collect();
                let _ = writeln!(
                    svg,
                    "<polyline class=\"line\" data-series=\"{}\" points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"/>",
                    esc(&series.name),
                    points.join(" "),
                    series.colour
                );
            }
            for (year, value) in series.points.iter().filter_map(|(year, v)| v.map(|v| (*year, v))) {
                let shown = if self.percent {
                    format!("{:.1}%", value * 100.0)
                } else {
                    format!("{} {}", crate::svg::tonnes(value), self.unit)
                };
                let _ = writeln!(
                    svg,
                    "<circle class=\"point\" data-series=\"{}\" data-year=\"{year}\" data-value=\"{value}\" cx=\"{}\" cy=\"{}\" r=\"2\" fill=\"{}\"><title>{} {year}: {}</title></circle>",
                    esc(&series.name),
                    px(x(year)),
                    px(y(value)),
                    series.colour,
                    esc(&series.name),
                    esc(&shown)
                );
            }
        }
    }

    fn draw_bars(&self, svg: &mut String, x: &dyn Fn(i32) -> f64, y: &dyn Fn(f64) -> f64, slot: f64) {
        let width = (slot * 0.8).max(1.0);
        for year in self.first_year..=self.last_year {
            let mut base = 0.0;
            let mut missing = Vec::new();
            for series in &self.series {
                match value_at(series, year) {
                    Some(value) if value > 0.0 => {
                        let _ = writeln!(
                            svg,
                            "<rect class=\"bar\" data-series=\"{}\" data-year=\"{year}\" data-value=\"{value}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"><title>{} {year}: {} {}</title></rect>",
                            esc(&series.name),
                            px(x(year) - width / 2.0),
                            px(y(base + value)),
                            px(width),
                            px(y(base) - y(base + value)),
                            series.colour,
                            esc(&series.name),
                            crate::svg::tonnes(value),
                            esc(&self.unit)
                        );
                        base += value;
                    }
                    Some(_) => {}
                    None => missing.push(series.name.clone()),
                }
            }
            if !missing.is_empty() && base > 0.0 {
                let _ = writeln!(
                    svg,
                    "<text class=\"incomplete\" data-year=\"{year}\" x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#b00\">?<title>{year}: no figure for {}</title></text>",
                    px(x(year)),
                    px(y(base) - 3.0),
                    esc(&missing.join(", "))
                );
            }
        }
    }
}

fn value_at(series: &Series, year: i32) -> Option<f64> {
    series.points.iter().find(|p| p.0 == year).and_then(|p| p.1)
}

/// Consecutive years grouped: [2000, 2001, 2003] → [[2000, 2001], [2003]].
fn runs(mut years: Vec<i32>) -> Vec<Vec<i32>> {
    years.sort_unstable();
    let mut runs: Vec<Vec<i32>> = Vec::new();
    for year in years {
        match runs.last_mut() {
            Some(run) if run.last() == Some(&(year - 1)) => run.push(year),
            _ => runs.push(vec![year]),
        }
    }
    runs
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
pub(crate) fn nice_step(raw: f64) -> f64 {
    if raw <= 0.0 || !raw.is_finite() {
        return 1.0;
    }
    let power = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * power).find(|step| *step >= raw).unwrap_or(10.0 * power)
}

/// Which source family supplied figures in which year: one row per family, a filled cell per year.
pub fn coverage_strip(rows: &[(String, Vec<i32>)], first: i32, last: i32) -> String {
    let (left, cell, row_height) = (250.0, ((WIDTH - 250.0 - 20.0) / (last - first + 1).max(1) as f64).min(24.0), 18.0);
    let height = TOP + rows.len() as f64 * row_height + 30.0;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"coverage-strip\" id=\"coverage\" viewBox=\"0 0 {WIDTH} {h}\" width=\"{WIDTH}\" height=\"{h}\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"11\">\n<title>Which years rest on which sources</title>\n<rect width=\"{WIDTH}\" height=\"{h}\" fill=\"#ffffff\"/>\n<text x=\"10\" y=\"18\" font-size=\"13\" font-weight=\"bold\">Which years rest on which sources</text>\n",
        h = px(height)
    );
    for (index, (family, years)) in rows.iter().enumerate() {
        let y = TOP + index as f64 * row_height;
        let _ = writeln!(svg, "<text x=\"10\" y=\"{}\">{}</text>", px(y + 12.0), esc(family));
        for year in first..=last {
            let used = years.contains(&year);
            let _ = writeln!(
                svg,
                "<rect class=\"cell{}\" data-source=\"{}\" data-year=\"{year}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\" stroke=\"#fff\"><title>{year}: {}{}</title></rect>",
                if used { " used" } else { "" },
                esc(family),
                px(left + (year - first) as f64 * cell),
                px(y),
                px(cell),
                px(row_height - 3.0),
                if used { "#3b7a57" } else { "#eeeeee" },
                esc(family),
                if used { "" } else { " (none)" }
            );
        }
    }
    let label_y = TOP + rows.len() as f64 * row_height + 14.0;
    for year in (first..=last).filter(|y| y % 5 == 0) {
        let _ = writeln!(
            svg,
            "<text x=\"{}\" y=\"{}\">{year}</text>",
            px(left + (year - first) as f64 * cell),
            px(label_y)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(kind: Kind) -> Chart {
        Chart {
            id: "c".into(),
            title: "T".into(),
            unit: "t REO".into(),
            kind,
            percent: false,
            series: vec![
                Series {
                    name: "A".into(),
                    colour: "#000".into(),
                    points: vec![(2000, Some(10.0)), (2001, None), (2002, Some(30.0))],
                    band: vec![],
                },
                Series {
                    name: "B".into(),
                    colour: "#111".into(),
                    points: vec![(2000, Some(5.0)), (2001, Some(7.0)), (2002, Some(1.0))],
                    band: vec![(2000, 4.0, 6.0), (2001, 6.0, 8.0)],
                },
            ],
            first_year: 2000,
            last_year: 2002,
        }
    }

    #[test]
    fn a_missing_value_breaks_the_line_instead_of_dropping_to_zero() {
        let svg = chart(Kind::Lines).to_svg();
        assert_eq!(svg.matches("class=\"line\" data-series=\"A\"").count(), 2, "two runs around the gap");
        assert_eq!(svg.matches("class=\"point\" data-series=\"A\"").count(), 2);
        assert_eq!(svg.matches("class=\"band\"").count(), 1);
    }

    #[test]
    fn stacked_bars_mark_years_with_a_missing_segment() {
        let svg = chart(Kind::StackedBars).to_svg();
        assert_eq!(svg.matches("class=\"bar\"").count(), 5);
        assert!(svg.contains("class=\"incomplete\" data-year=\"2001\""));
        assert!(!svg.contains("class=\"incomplete\" data-year=\"2000\""));
    }

    #[test]
    fn steps_and_runs() {
        assert_eq!(nice_step(37.0), 50.0);
        assert_eq!(nice_step(0.13), 0.2);
        assert_eq!(runs(vec![2003, 2000, 2001]), vec![vec![2000, 2001], vec![2003]]);
    }
}
