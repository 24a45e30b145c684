//! The Sankey diagram of one year: regions × stages (mining → separation → metal → magnet →
//! demand), in t REO.
//!
//! A node is a region's goods of one stage; in the demand column, a region's end use. Links are
//! the model's flows: trade from the exporter's stage to the importer's next stage (`trade_flows`,
//! central factors), domestic use (the next stage's input less imports, from `stage_balance`), and
//! where a region's separated REO is split by end use (`demand_by_end_use`): its separation node
//! feeds the metal node with the metal and magnet shares (less the separated goods it imports,
//! which are drawn into the metal node) and each direct end use, the metal node feeds the magnet
//! node and the alloy end use, the magnet node the magnet end use. The unregistered flow U of each balance
//! as its own signed node: U > 0 (supply no statistic records) flows into the region's stage from
//! an "unregistered supply" node drawn just left of the stage's column; U < 0 (registered supply
//! beyond registered use) leaves it for an "unregistered use" node just right of it. With these,
//! every balanced node's inflow equals its outflow. Nodes keep one order in every year (the
//! region list), so years can be compared; link widths are proportional to tonnes, one scale per
//! diagram.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::svg::{UNREGISTERED_SUPPLY, UNREGISTERED_USE, esc, px, region_colour, signed_tonnes, tonnes};

/// The columns, left to right.
pub const STAGES: [&str; 5] = ["mining", "separation", "metal", "magnet", "demand"];

/// Which row a node sits in: a region (by its position in the region list) or an unregistered row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Row {
    Region(usize),
    /// A region's end use in the demand column: (region, end use) by their positions.
    EndUse(usize, usize),
    UnregisteredSupply,
    UnregisteredUse,
}

impl Row {
    /// Regions and end uses are stacked down their column; unregistered nodes sit between columns.
    fn is_stacked(self) -> bool {
        matches!(self, Row::Region(_) | Row::EndUse(..))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId {
    pub row: Row,
    pub column: usize,
}

#[derive(Debug, Clone)]
pub struct Region {
    pub code: String,
    pub name: String,
}

/// One row of `stage_balance` for the year.
#[derive(Debug, Clone, Default)]
pub struct BalanceRow {
    pub region: String,
    pub stage: String,
    pub production: Option<f64>,
    pub imports: Option<f64>,
    pub exports: Option<f64>,
    /// The next stage's input (its production; for magnets, demand).
    pub next_stage_input: Option<f64>,
    pub unregistered: Option<f64>,
    pub unregistered_low: Option<f64>,
    pub unregistered_high: Option<f64>,
}

/// One end use of a region's separated REO (`demand_by_end_use`).
#[derive(Debug, Clone)]
pub struct EndUseRow {
    pub region: String,
    pub end_use: String,
    /// `direct`, `metal` or `magnet`.
    pub route: String,
    pub t_reo: f64,
    pub low: Option<f64>,
    pub high: Option<f64>,
}

/// Trade between two regions in one stage's goods (`trade_flows`, summed).
#[derive(Debug, Clone)]
pub struct TradeRow {
    pub exporter: String,
    pub importer: String,
    pub stage: String,
    pub t_reo: f64,
    pub low: Option<f64>,
    pub high: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    Trade,
    Domestic,
    Unregistered,
}

impl LinkKind {
    fn class(self) -> &'static str {
        match self {
            LinkKind::Trade => "trade",
            LinkKind::Domestic => "domestic",
            LinkKind::Unregistered => "unregistered",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Link {
    pub from: NodeId,
    pub to: NodeId,
    pub kind: LinkKind,
    pub t_reo: f64,
    pub low: Option<f64>,
    pub high: Option<f64>,
}

/// The flows of one year, ready to draw.
#[derive(Debug, Clone)]
pub struct Sankey {
    pub year: i32,
    pub regions: Vec<Region>,
    /// The end uses drawn in the demand column, in order.
    pub end_uses: Vec<String>,
    /// Registered production per node, where known.
    pub production: BTreeMap<NodeId, f64>,
    pub links: Vec<Link>,
    /// What could not be drawn, and why.
    pub notes: Vec<String>,
}

const WIDTH: f64 = 1100.0;
const HEIGHT: f64 = 660.0;
const LEFT: f64 = 130.0;
const RIGHT: f64 = 150.0;
const TOP: f64 = 46.0;
const BOTTOM: f64 = 36.0;
const NODE_WIDTH: f64 = 12.0;
const PADDING: f64 = 12.0;

impl Sankey {
    /// Derives the links of `year` from the balance, the trade between regions and the end-use
    /// split of each region's separated REO.
    pub fn build(
        year: i32,
        regions: Vec<Region>,
        balance: &[BalanceRow],
        trade: &[TradeRow],
        end_uses: &[EndUseRow],
    ) -> Self {
        let index: BTreeMap<&str, usize> = regions.iter().enumerate().map(|(i, r)| (r.code.as_str(), i)).collect();
        let column = |stage: &str| STAGES.iter().position(|s| *s == stage);
        let mut use_names: Vec<String> = Vec::new();
        for row in end_uses {
            if !use_names.contains(&row.end_use) {
                use_names.push(row.end_use.clone());
            }
        }
        let mut sankey = Sankey {
            year,
            regions: regions.clone(),
            end_uses: use_names,
            production: BTreeMap::new(),
            links: Vec::new(),
            notes: Vec::new(),
        };
        let split: BTreeMap<&str, Vec<&EndUseRow>> = end_uses.iter().fold(BTreeMap::new(), |mut by, row| {
            by.entry(row.region.as_str()).or_insert_with(Vec::new).push(row);
            by
        });
        // Separated goods imported by a region whose use is split by end use are drawn with the
        // split (add_end_use_links), not whole into its metal node.
        let mut split_imports: BTreeMap<usize, Vec<(usize, &TradeRow)>> = BTreeMap::new();
        for flow in trade {
            let (Some(&from), Some(&to), Some(stage)) =
                (index.get(flow.exporter.as_str()), index.get(flow.importer.as_str()), column(&flow.stage))
            else {
                continue;
            };
            if stage + 1 >= STAGES.len() || flow.t_reo <= 0.0 {
                continue;
            }
            if flow.stage == "separation" && split.contains_key(flow.importer.as_str()) {
                split_imports.entry(to).or_default().push((from, flow));
                continue;
            }
            sankey.links.push(Link {
                from: NodeId { row: Row::Region(from), column: stage },
                to: NodeId { row: Row::Region(to), column: stage + 1 },
                kind: LinkKind::Trade,
                t_reo: flow.t_reo,
                low: flow.low,
                high: flow.high,
            });
        }
        for (region_code, rows) in &split {
            let Some(&region) = index.get(region_code) else { continue };
            let imports = split_imports.remove(&region).unwrap_or_default();
            sankey.add_end_use_links(region, rows, &imports);
        }
        for row in balance {
            let (Some(&region), Some(stage)) = (index.get(row.region.as_str()), column(&row.stage)) else { continue };
            let node = NodeId { row: Row::Region(region), column: stage };
            if let Some(production) = row.production.filter(|p| *p > 0.0) {
                sankey.production.insert(node, production);
            }
            if stage + 1 >= STAGES.len() {
                continue;
            }
            // A region whose separated REO is split by end use gets its separation, metal and
            // magnet outflows from the split (add_end_use_links); its U is still drawn below.
            let from_split = stage >= 1 && split.contains_key(row.region.as_str());
            let next = NodeId { row: Row::Region(region), column: stage + 1 };
            // Domestic use: what the next stage takes beyond its imports; without a balance, what
            // production leaves after exports.
            let domestic = match (row.next_stage_input, row.imports, row.production, row.exports) {
                _ if from_split => 0.0,
                (Some(input), Some(imports), _, _) => input - imports,
                (_, _, Some(production), Some(exports)) => production - exports,
                (_, _, Some(production), None) if production > 0.0 => {
                    sankey.notes.push(format!(
                        "{} {}: exports unknown, so its domestic use is not drawn",
                        row.region, row.stage
                    ));
                    continue;
                }
                _ => continue,
            };
            if domestic > 0.0 {
                sankey.links.push(Link {
                    from: node,
                    to: next,
                    kind: LinkKind::Domestic,
                    t_reo: domestic,
                    low: None,
                    high: None,
                });
            } else if domestic < 0.0 {
                sankey.notes.push(format!(
                    "{} {}: imports exceed what the next stage takes (re-exports or stock); no domestic flow drawn",
                    row.region, row.stage
                ));
            }
            let Some(unregistered) = row.unregistered.filter(|u| *u != 0.0) else { continue };
            let (from, to) = if unregistered > 0.0 {
                (NodeId { row: Row::UnregisteredSupply, column: stage }, node)
            } else {
                (node, NodeId { row: Row::UnregisteredUse, column: stage })
            };
            sankey.links.push(Link {
                from,
                to,
                kind: LinkKind::Unregistered,
                t_reo: unregistered.abs(),
                low: row.unregistered_low,
                high: row.unregistered_high,
            });
        }
        sankey
    }

    /// The links of one region's end-use split (see the module documentation). The region uses C
    /// t of separated REO (the sum of its end uses); each end use takes its share of C, from the
    /// region's own separation node and from the exporters of the separated goods it imports
    /// (`imports`: exporter row and flow), in proportion. Imports beyond C (re-exported) are not
    /// drawn, and a note says so.
    fn add_end_use_links(&mut self, region: usize, rows: &[&EndUseRow], imports: &[(usize, &TradeRow)]) {
        let node = |column: usize| NodeId { row: Row::Region(region), column };
        let demand = |use_index: usize| NodeId { row: Row::EndUse(region, use_index), column: STAGES.len() - 1 };
        let used: f64 = rows.iter().map(|r| r.t_reo).sum();
        let imported: f64 = imports.iter().map(|(_, flow)| flow.t_reo).sum();
        if used <= 0.0 {
            return;
        }
        // The part of each imported tonne the region uses, and what its own separation gives.
        let drawn = if imported > used { used / imported } else { 1.0 };
        let own = (used - imported).max(0.0);
        if imported > used {
            self.notes.push(format!(
                "{} separation: it imports {} t of separated goods and uses {} t; the rest (re-exported) is not drawn",
                self.regions[region].code,
                crate::svg::tonnes(imported),
                crate::svg::tonnes(used)
            ));
        }
        let mut links = Vec::new();
        let mut push = |from: NodeId, to: NodeId, kind: LinkKind, t_reo: f64, low: Option<f64>, high: Option<f64>| {
            if t_reo > 0.0 {
                links.push(Link { from, to, kind, t_reo, low, high });
            }
        };
        let route_share = |routes: &[&str]| -> f64 {
            rows.iter().filter(|r| routes.contains(&r.route.as_str())).map(|r| r.t_reo).sum::<f64>() / used
        };
        let metal_share = route_share(&["metal", "magnet"]);
        // Into the metal node: the metal and magnet shares of the own output and of the imports.
        push(node(1), node(2), LinkKind::Domestic, own * metal_share, None, None);
        for (exporter, flow) in imports {
            let from = NodeId { row: Row::Region(*exporter), column: 1 };
            let scaled = |v: Option<f64>, share: f64| v.map(|v| v * drawn * share);
            push(from, node(2), LinkKind::Trade, flow.t_reo * drawn * metal_share, None, None);
            for row in rows.iter().filter(|r| r.route == "direct") {
                let Some(use_index) = self.end_uses.iter().position(|u| *u == row.end_use) else { continue };
                let share = row.t_reo / used;
                push(
                    from,
                    demand(use_index),
                    LinkKind::Trade,
                    flow.t_reo * drawn * share,
                    scaled(flow.low, share),
                    scaled(flow.high, share),
                );
            }
        }
        push(node(2), node(3), LinkKind::Domestic, used * route_share(&["magnet"]), None, None);
        for row in rows {
            let Some(use_index) = self.end_uses.iter().position(|u| *u == row.end_use) else { continue };
            let (from, t_reo) = match row.route.as_str() {
                "magnet" => (node(3), row.t_reo),
                "metal" => (node(2), row.t_reo),
                // Direct uses: the own output's part here, the imports' part above.
                _ => (node(1), own * row.t_reo / used),
            };
            push(from, demand(use_index), LinkKind::Domestic, t_reo, None, None);
        }
        self.links.extend(links);
    }

    /// Each node's height in t REO: its registered production, or what flows in or out if more.
    pub fn node_values(&self) -> BTreeMap<NodeId, f64> {
        let mut values: BTreeMap<NodeId, (f64, f64)> = BTreeMap::new();
        for link in &self.links {
            values.entry(link.from).or_default().1 += link.t_reo;
            values.entry(link.to).or_default().0 += link.t_reo;
        }
        let mut nodes: BTreeMap<NodeId, f64> =
            values.into_iter().map(|(node, (inflow, outflow))| (node, inflow.max(outflow))).collect();
        for (node, production) in &self.production {
            let value = nodes.entry(*node).or_default();
            *value = value.max(*production);
        }
        nodes
    }

    /// Pixels per tonne: the fullest column of regions (or the largest unregistered node) fills
    /// the height.
    pub fn scale(&self) -> f64 {
        let values = self.node_values();
        let mut fullest: f64 = 0.0;
        let mut most_nodes = 1usize;
        for column in 0..STAGES.len() {
            let in_column: Vec<f64> =
                values.iter().filter(|(n, _)| n.column == column && n.row.is_stacked()).map(|(_, v)| *v).collect();
            fullest = fullest.max(in_column.iter().sum());
            most_nodes = most_nodes.max(in_column.len());
        }
        let room = HEIGHT - TOP - BOTTOM - PADDING * (most_nodes.saturating_sub(1)) as f64;
        let largest_unregistered =
            values.iter().filter(|(n, _)| !n.row.is_stacked()).map(|(_, v)| *v).fold(0.0, f64::max);
        let mut scale = if fullest > 0.0 { room / fullest } else { 1.0 };
        if largest_unregistered * scale > HEIGHT - TOP - BOTTOM {
            scale = (HEIGHT - TOP - BOTTOM) / largest_unregistered;
        }
        scale
    }

    /// The left edge of a node: regions on their stage's column, unregistered supply half a gap
    /// before it, unregistered use half a gap after it.
    fn node_x(node: NodeId) -> f64 {
        let spacing = (WIDTH - LEFT - RIGHT - NODE_WIDTH) / (STAGES.len() - 1) as f64;
        let column = LEFT + node.column as f64 * spacing;
        match node.row {
            Row::Region(_) | Row::EndUse(..) => column,
            Row::UnregisteredSupply => column - spacing / 2.0,
            Row::UnregisteredUse => column + spacing / 2.0,
        }
    }

    fn label(&self, node: NodeId) -> (String, String) {
        match node.row {
            Row::Region(index) => (self.regions[index].code.clone(), self.regions[index].name.clone()),
            Row::EndUse(index, end_use) => {
                let name = self.end_uses[end_use].replace('_', " ");
                (format!("{} {name}", self.regions[index].code), format!("{} {name}", self.regions[index].name))
            }
            Row::UnregisteredSupply => ("unregistered supply".into(), "Unregistered supply (U > 0)".into()),
            Row::UnregisteredUse => ("unregistered use".into(), "Unregistered use (U < 0)".into()),
        }
    }

    fn colour(&self, row: Row) -> &'static str {
        match row {
            Row::Region(index) | Row::EndUse(index, _) => region_colour(index),
            Row::UnregisteredSupply => UNREGISTERED_SUPPLY,
            Row::UnregisteredUse => UNREGISTERED_USE,
        }
    }

    fn node_key(&self, node: NodeId) -> String {
        format!("{}:{}", self.label(node).0, STAGES[node.column])
    }

    /// The diagram as a standalone SVG document.
    pub fn to_svg(&self) -> String {
        let values = self.node_values();
        let scale = self.scale();
        // Regions stacked from the top of each column in list order; unregistered nodes at the
        // bottom, between the columns.
        let mut top: BTreeMap<NodeId, f64> = BTreeMap::new();
        for column in 0..STAGES.len() {
            let mut y = TOP;
            for (node, value) in values.iter().filter(|(n, _)| n.column == column) {
                if node.row.is_stacked() {
                    top.insert(*node, y);
                    y += value * scale + PADDING;
                } else {
                    top.insert(*node, HEIGHT - BOTTOM - value * scale);
                }
            }
        }
        let mut svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"sankey\" id=\"sankey-{year}\" data-year=\"{year}\" data-scale=\"{scale}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" width=\"{WIDTH}\" height=\"{HEIGHT}\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"11\">\n",
            year = self.year
        );
        let _ = writeln!(svg, "<title>Rare-earth flows {}, t REO</title>", self.year);
        let _ = writeln!(
            svg,
            "<defs><pattern id=\"hatch\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#fff\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#333\" stroke-width=\"3\"/></pattern></defs>"
        );
        let _ = writeln!(svg, "<rect width=\"{WIDTH}\" height=\"{HEIGHT}\" fill=\"#ffffff\"/>");
        for (column, stage) in STAGES.iter().enumerate() {
            let x = px(Self::node_x(NodeId { row: Row::Region(0), column }));
            let _ = writeln!(
                svg,
                "<text class=\"column\" x=\"{x}\" y=\"24\" font-size=\"13\" font-weight=\"bold\">{stage}</text>"
            );
            // A column without nodes says so rather than standing empty.
            if !values.keys().any(|n| n.column == column && n.row.is_stacked()) {
                let _ = writeln!(
                    svg,
                    "<text class=\"no-data\" x=\"{x}\" y=\"{}\" fill=\"#777\" font-style=\"italic\">no data for this stage in {}</text>",
                    px(TOP + 14.0),
                    self.year
                );
            }
        }
        // Links: outgoing stacked in target order, incoming in source order.
        let mut out_offset: BTreeMap<NodeId, f64> = BTreeMap::new();
        let mut in_offset: BTreeMap<NodeId, f64> = BTreeMap::new();
        let mut ordered: Vec<&Link> = self.links.iter().collect();
        ordered.sort_by_key(|l| (l.from, l.to));
        let mut incoming_order: Vec<&Link> = self.links.iter().collect();
        incoming_order.sort_by_key(|l| (l.to, l.from));
        let mut in_start: BTreeMap<(NodeId, NodeId, usize), f64> = BTreeMap::new();
        for link in &incoming_order {
            let offset = in_offset.entry(link.to).or_default();
            in_start.insert((link.to, link.from, link.kind as usize), *offset);
            *offset += link.t_reo * scale;
        }
        for link in ordered {
            let width = link.t_reo * scale;
            let from_offset = out_offset.entry(link.from).or_default();
            let y0 = top[&link.from] + *from_offset + width / 2.0;
            *from_offset += width;
            let y1 = top[&link.to] + in_start[&(link.to, link.from, link.kind as usize)] + width / 2.0;
            let (x0, x1) = (Self::node_x(link.from) + NODE_WIDTH, Self::node_x(link.to));
            let middle = (x0 + x1) / 2.0;
            let range = match (link.low, link.high) {
                (Some(low), Some(high)) if link.kind == LinkKind::Unregistered => {
                    format!(" (range {} to {})", signed_tonnes(low), signed_tonnes(high))
                }
                (Some(low), Some(high)) => format!(" (range {} to {})", tonnes(low), tonnes(high)),
                _ => String::new(),
            };
            let opacity = if link.kind == LinkKind::Domestic { "0.28" } else { "0.5" };
            let _ = writeln!(
                svg,
                "<path class=\"link {kind}\" data-from=\"{from}\" data-to=\"{to}\" data-t-reo=\"{value}\"{low}{high} d=\"M{x0},{y0} C{m},{y0} {m},{y1} {x1},{y1}\" fill=\"none\" stroke=\"{colour}\" stroke-opacity=\"{opacity}\" stroke-width=\"{width}\"><title>{from_label} → {to_label}, {kind}: {t} t REO{range}</title></path>",
                kind = link.kind.class(),
                from = esc(&self.node_key(link.from)),
                to = esc(&self.node_key(link.to)),
                value = link.t_reo,
                low = link.low.map(|v| format!(" data-low=\"{v}\"")).unwrap_or_default(),
                high = link.high.map(|v| format!(" data-high=\"{v}\"")).unwrap_or_default(),
                x0 = px(x0),
                y0 = px(y0),
                m = px(middle),
                x1 = px(x1),
                y1 = px(y1),
                colour = self.colour(link.from.row),
                from_label = esc(&self.node_key(link.from)),
                to_label = esc(&self.node_key(link.to)),
                t = tonnes(link.t_reo),
            );
        }
        for (node, value) in &values {
            let (code, name) = self.label(*node);
            let (x, y, height) = (Self::node_x(*node), top[node], value * scale);
            let unregistered = !node.row.is_stacked();
            let fill = if unregistered { "url(#hatch)" } else { self.colour(node.row) };
            let signed = match node.row {
                Row::UnregisteredSupply => format!("+{}", tonnes(*value)),
                Row::UnregisteredUse => format!("-{}", tonnes(*value)),
                Row::Region(_) | Row::EndUse(..) => tonnes(*value),
            };
            let production = self
                .production
                .get(node)
                .map(|p| format!("; registered production {} t", tonnes(*p)))
                .unwrap_or_default();
            // Labels: beside region nodes (left of the last column), above unregistered ones;
            // slivers are labelled only in their tooltip.
            let (label_x, label_y, anchor) = if node.row == Row::UnregisteredSupply {
                (x, y - 10.0, "start")
            } else if unregistered {
                (x + NODE_WIDTH / 2.0, y + height + 12.0, "middle")
            } else if node.column + 1 == STAGES.len() {
                (x - 4.0, y + height / 2.0, "end")
            } else {
                (x + NODE_WIDTH + 4.0, y + height / 2.0, "start")
            };
            // A region's label gives its registered production where known (the node's height is
            // what flows through it, which can be more).
            let shown = match (node.row, self.production.get(node)) {
                (Row::Region(_), Some(production)) => tonnes(*production),
                _ => signed.clone(),
            };
            let label = if height >= 2.5 || unregistered { format!("{} {}", esc(&code), shown) } else { String::new() };
            let _ = writeln!(
                svg,
                "<g class=\"node{}\" data-node=\"{}\" data-t-reo=\"{value}\"><rect x=\"{}\" y=\"{}\" width=\"{NODE_WIDTH}\" height=\"{}\" fill=\"{fill}\" stroke=\"{}\"/><text x=\"{}\" y=\"{}\" text-anchor=\"{anchor}\" dy=\"4\">{label}</text><title>{} ({}), {}: {} t REO{production}</title></g>",
                if unregistered { " unregistered" } else { "" },
                esc(&self.node_key(*node)),
                px(x),
                px(y),
                px(height.max(0.5)),
                self.colour(node.row),
                px(label_x),
                px(label_y),
                esc(&name),
                esc(&code),
                STAGES[node.column],
                signed
            );
        }
        svg.push_str("</svg>\n");
        svg
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regions() -> Vec<Region> {
        ["USA", "CHN"].iter().map(|c| Region { code: c.to_string(), name: c.to_string() }).collect()
    }

    fn balance(region: &str, production: f64, imports: f64, exports: f64, next: f64) -> BalanceRow {
        // U = use - supply, as stage_balance computes it.
        let unregistered = (next + exports) - (production + imports);
        BalanceRow {
            region: region.into(),
            stage: "mining".into(),
            production: Some(production),
            imports: Some(imports),
            exports: Some(exports),
            next_stage_input: Some(next),
            unregistered: Some(unregistered),
            unregistered_low: Some(unregistered - 1.0),
            unregistered_high: Some(unregistered + 1.0),
        }
    }

    fn us_to_china(t_reo: f64) -> Vec<TradeRow> {
        vec![TradeRow {
            exporter: "USA".into(),
            importer: "CHN".into(),
            stage: "mining".into(),
            t_reo,
            low: None,
            high: None,
        }]
    }

    #[test]
    fn every_balanced_node_takes_in_what_it_gives_out() {
        // The US mines 100, exports 60 to China, separates 40. China mines 200, imports the 60,
        // separates 230: U = 230 - 260 = -30 leaves China's mining for unregistered use.
        let balance = vec![balance("USA", 100.0, 0.0, 60.0, 40.0), balance("CHN", 200.0, 60.0, 0.0, 230.0)];
        let sankey = Sankey::build(2022, regions(), &balance, &us_to_china(60.0), &[]);
        let of = |kind: LinkKind, from: Row| {
            sankey.links.iter().find(|l| l.kind == kind && l.from.row == from).unwrap().t_reo
        };
        assert_eq!(of(LinkKind::Domestic, Row::Region(0)), 40.0);
        assert_eq!(of(LinkKind::Domestic, Row::Region(1)), 170.0, "230 separated, 60 of it imported");
        assert_eq!(of(LinkKind::Unregistered, Row::Region(1)), 30.0);
        let (mut inflow, mut outflow) = (BTreeMap::<NodeId, f64>::new(), BTreeMap::<NodeId, f64>::new());
        for link in &sankey.links {
            *outflow.entry(link.from).or_default() += link.t_reo;
            *inflow.entry(link.to).or_default() += link.t_reo;
        }
        for (region, production) in [(0, 100.0), (1, 200.0)] {
            let node = NodeId { row: Row::Region(region), column: 0 };
            assert_eq!(outflow[&node], production + inflow.get(&node).copied().unwrap_or_default());
        }
        assert_eq!(inflow[&NodeId { row: Row::Region(1), column: 1 }], 230.0);
    }

    #[test]
    fn every_link_is_as_wide_as_its_tonnes_on_one_scale() {
        // Exports of 60 and 45 separated from 100 mined: U = +5 flows into US mining.
        let sankey = Sankey::build(2022, regions(), &[balance("USA", 100.0, 0.0, 60.0, 45.0)], &us_to_china(60.0), &[]);
        let svg = sankey.to_svg();
        let scale = sankey.scale();
        let mut links = 0;
        for path in svg.split("<path class=\"link").skip(1) {
            let attribute = |name: &str| -> f64 {
                let start = path.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
                path[start..].split('"').next().unwrap().parse().unwrap()
            };
            assert!((attribute("stroke-width") - attribute("data-t-reo") * scale).abs() < 1e-9);
            links += 1;
        }
        assert_eq!(links, 3, "trade, domestic, unregistered supply");
        assert!(svg.contains("data-from=\"unregistered supply:mining\" data-to=\"USA:mining\" data-t-reo=\"5\""));
    }

    #[test]
    fn unknown_exports_are_a_note_not_a_guess() {
        let row = BalanceRow {
            region: "USA".into(),
            stage: "mining".into(),
            production: Some(100.0),
            ..BalanceRow::default()
        };
        let sankey = Sankey::build(2022, regions(), &[row], &[], &[]);
        assert!(sankey.links.is_empty());
        assert_eq!(sankey.notes, vec!["USA mining: exports unknown, so its domestic use is not drawn"]);
        assert_eq!(sankey.node_values()[&NodeId { row: Row::Region(0), column: 0 }], 100.0);
    }

    #[test]
    fn separated_rare_earths_split_between_metal_and_direct_end_uses() {
        // China separates 200 and imports 10 of separated goods (drawn into its metal node): 35 %
        // magnets and 65 % catalysts of the 210 it uses.
        let separation = BalanceRow {
            region: "CHN".into(),
            stage: "separation".into(),
            production: Some(200.0),
            ..BalanceRow::default()
        };
        let imports = vec![TradeRow {
            exporter: "USA".into(),
            importer: "CHN".into(),
            stage: "separation".into(),
            t_reo: 10.0,
            low: None,
            high: None,
        }];
        let end_use = |name: &str, route: &str, t_reo: f64| EndUseRow {
            region: "CHN".into(),
            end_use: name.into(),
            route: route.into(),
            t_reo,
            low: None,
            high: None,
        };
        let split = [end_use("magnets", "magnet", 73.5), end_use("catalysts", "direct", 136.5)];
        let sankey = Sankey::build(2022, regions(), &[separation], &imports, &split);
        let values = sankey.node_values();
        let china = |column: usize| NodeId { row: Row::Region(1), column };
        assert_eq!(values[&china(2)], 73.5, "the metal node is the metal share, imports included");
        assert_eq!(values[&china(3)], 73.5);
        let demand = |use_index: usize| values[&NodeId { row: Row::EndUse(1, use_index), column: 4 }];
        assert_eq!((demand(0), demand(1)), (73.5, 136.5));
        let svg = sankey.to_svg();
        assert!(svg.contains("data-node=\"CHN catalysts:demand\""), "{svg}");
        assert_eq!(svg.matches("no data for this stage").count(), 1, "only the mining column is empty here");
        let empty = Sankey::build(2022, regions(), &[], &[], &[]).to_svg();
        assert_eq!(empty.matches("no data for this stage in 2022").count(), STAGES.len());
    }
}
