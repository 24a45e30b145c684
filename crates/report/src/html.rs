//! The report page: one self-contained HTML file (inline SVG and CSS, no scripts, no fetches).

use std::fmt::Write;

use crate::data::TextTable;
use crate::svg::esc;
use crate::{Figure, ReportContext};

const STYLE: &str = "
body { font-family: Helvetica, Arial, sans-serif; margin: 0; color: #222; background: #f6f6f3; }
header { background: #1d3b53; color: #fff; padding: 18px 32px; }
header h1 { margin: 0 0 4px 0; font-size: 22px; }
header p { margin: 2px 0; color: #d8e2ea; font-size: 13px; }
main { padding: 12px 32px 40px 32px; max-width: 1180px; }
section { background: #fff; border: 1px solid #ddd; border-radius: 4px; margin: 18px 0; padding: 14px 18px; }
h2 { font-size: 17px; margin: 4px 0 10px 0; }
figure { margin: 10px 0; }
figcaption { font-size: 12px; color: #555; margin-top: 4px; }
figcaption li { margin: 2px 0; }
svg { max-width: 100%; height: auto; }
table { border-collapse: collapse; font-size: 12px; margin: 6px 0 16px 0; }
th, td { border-bottom: 1px solid #e3e3e3; padding: 3px 10px 3px 0; text-align: left; vertical-align: top; }
th { color: #444; }
caption { text-align: left; font-weight: bold; padding: 4px 0; font-size: 13px; }
.legend span { display: inline-block; margin-right: 16px; font-size: 12px; }
.swatch { display: inline-block; width: 12px; height: 10px; margin-right: 4px; vertical-align: middle; }
";

fn table(out: &mut String, table: &TextTable) {
    let _ = writeln!(out, "<table><caption>{}</caption>", esc(&table.caption));
    if table.rows.is_empty() {
        let _ = writeln!(out, "<tr><td>none</td></tr></table>");
        return;
    }
    out.push_str("<tr>");
    for cell in &table.header {
        let _ = write!(out, "<th>{}</th>", esc(cell));
    }
    out.push_str("</tr>\n");
    for row in &table.rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{}</td>", esc(cell));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

fn figure(out: &mut String, figure: &Figure) {
    let _ = writeln!(out, "<figure id=\"figure-{}\">", esc(&figure.name));
    out.push_str(&figure.svg);
    if !figure.notes.is_empty() {
        out.push_str("<figcaption><ul>");
        for note in &figure.notes {
            let _ = write!(out, "<li>{}</li>", esc(note));
        }
        out.push_str("</ul></figcaption>");
    }
    out.push_str("</figure>\n");
}

pub fn page(
    context: &ReportContext,
    sankeys: &[Figure],
    charts: &[Figure],
    coverage: &Figure,
    provenance: &[TextTable],
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>reeflow: rare-earth flows</title>\n<style>{STYLE}</style>\n</head>\n<body>"
    );
    let _ = writeln!(
        out,
        "<header><h1>Rare-earth flows from public statistics</h1><p>{}</p><p>Tonnes of rare-earth-oxide equivalent (t REO). Built by reeflow from USGS, UN Comtrade and USITC DataWeb; every figure traces to its source file and edition.</p></header>\n<main>",
        esc(&context.describe())
    );
    out.push_str("<section id=\"flows\"><h2>Flows by region and stage</h2>\n<p class=\"legend\"><span>Links: trade between regions (stronger), domestic use (lighter), unregistered flows (hatched nodes: <span class=\"swatch\" style=\"background:#b2182b\"></span>supply no statistic records, U &gt; 0; <span class=\"swatch\" style=\"background:#2166ac\"></span>registered supply beyond registered use, U &lt; 0). Hover a link or node for its value and range.</span></p>\n");
    for sankey in sankeys {
        figure(&mut out, sankey);
    }
    out.push_str("</section>\n<section id=\"series\"><h2>Over time</h2>\n");
    for chart in charts {
        figure(&mut out, chart);
    }
    out.push_str("</section>\n<section id=\"coverage\"><h2>Coverage and provenance</h2>\n");
    figure(&mut out, coverage);
    for provenance_table in provenance {
        table(&mut out, provenance_table);
    }
    out.push_str("</section>\n</main>\n</body>\n</html>\n");
    out
}
