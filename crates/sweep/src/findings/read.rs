//! The committed result sets, read back from their `results.json`.
//!
//! Both figure families write a `results.json` into their set's folder, in
//! two formats: the client sweep's ([`crate::fanout`]) holds, per figure,
//! series of points with the wall time's median and range and the other
//! measures of each N; the server sweep's ([`crate::serving`]) holds, per
//! figure, panels of series whose points are `[x, median, min, max]`. This
//! module turns both into one shape, [`Figure`]: named measures, each a
//! list of series of `(x, median, min, max)` points, so that a claim reads
//! any figure of any family the same way, by figure id, measure and label.

use anyhow::Context;
use serde_json::Value;
use std::fmt;
use std::path::Path;

/// The two figure families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    /// `runtime-lab sweep`: N batches fetched and preprocessed by one client.
    Client,
    /// `runtime-lab sweep --server`: a server under load.
    Server,
}

/// How large a sweep was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scale {
    /// `--quick`: scaled-down delays and fewer points.
    Quick,
    /// The full scale.
    Full,
}

/// A kind of result set: a family at a scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Kind {
    /// Client or server figures.
    pub family: Family,
    /// Quick or full.
    pub scale: Scale,
}

impl Kind {
    /// The client figures' quick set.
    pub const CLIENT_QUICK: Kind = Kind {
        family: Family::Client,
        scale: Scale::Quick,
    };
    /// The client figures' full set.
    pub const CLIENT_FULL: Kind = Kind {
        family: Family::Client,
        scale: Scale::Full,
    };
    /// The server figures' quick set.
    pub const SERVER_QUICK: Kind = Kind {
        family: Family::Server,
        scale: Scale::Quick,
    };
    /// The server figures' full set.
    pub const SERVER_FULL: Kind = Kind {
        family: Family::Server,
        scale: Scale::Full,
    };
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let family = match self.family {
            Family::Client => "client",
            Family::Server => "server",
        };
        let scale = match self.scale {
            Scale::Quick => "quick",
            Scale::Full => "full",
        };
        write!(f, "{family} {scale}")
    }
}

/// The machine a set ran on, from its `machine` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    /// Logical CPUs the runs had.
    pub cores: u64,
    /// The CPU's model name.
    pub cpu_model: String,
}

impl fmt::Display for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} cores, {}", self.cores, self.cpu_model)
    }
}

/// One point of a series: its x and the median, fastest and slowest repeat.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// N batches, workers, connections or share of load: the figure's axis.
    pub x: f64,
    /// Median over the repeats.
    pub median: f64,
    /// Smallest repeat.
    pub min: f64,
    /// Largest repeat.
    pub max: f64,
}

/// One curve of one measure.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The label the figure's legend shows (`threads --gil`, `py-uvicorn -w 2`).
    pub label: String,
    /// Points in ascending x.
    pub points: Vec<Point>,
}

impl Series {
    /// The point at `x`, if measured.
    pub fn at(&self, x: f64) -> Option<&Point> {
        self.points.iter().find(|point| point.x == x)
    }
}

/// One figure of a set, every measure it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// The figure's number in its family.
    pub id: u8,
    /// Its title (`3. io + CPU (fraction 0.5): one event loop goes serial`).
    pub title: String,
    /// What its x is called in a sentence: `N` (batches), `W` (workers),
    /// `C` (held connections) or `x`.
    pub x_name: &'static str,
    /// The upstream delay of a client figure, ms (`None` for a server figure).
    pub io_ms: Option<f64>,
    /// Measures by name, each with its series: a client figure's point
    /// fields (`wall_ms`, `efficiency`, `kib_per_request`, `cpu_per_batch_ms`,
    /// `peak_rss_kb`), a server figure's panels (`max sustainable RPS`).
    pub measures: Vec<(String, Vec<Series>)>,
}

impl Figure {
    /// The series `label` of `measure`, if the figure holds it.
    pub fn series(&self, measure: &str, label: &str) -> Option<&Series> {
        self.measures
            .iter()
            .find(|(name, _)| name == measure)
            .and_then(|(_, series)| series.iter().find(|s| s.label == label))
    }
}

/// One committed result set.
#[derive(Debug, Clone, PartialEq)]
pub struct Set {
    /// The folder's name under `reports/` (`2026-11-26-quick-2c`).
    pub folder: String,
    /// The date in the folder's name (`2026-11-26`), or the sweep's start date.
    pub date: String,
    /// When the sweep started, as its results.json says (`2026-11-26 14:38:51 UTC`).
    pub started: String,
    /// The command that wrote the set.
    pub command: String,
    /// Family and scale.
    pub kind: Kind,
    /// Where it ran.
    pub machine: Machine,
    /// Its figures, in the file's order.
    pub figures: Vec<Figure>,
}

impl Set {
    /// Figure `id`, if the set holds it.
    pub fn figure(&self, id: u8) -> Option<&Figure> {
        self.figures.iter().find(|figure| figure.id == id)
    }

    /// The order of "newest": the folder's date, then the sweep's start,
    /// then the folder's name, so that the order is total and stable.
    fn age_key(&self) -> (&str, &str, &str) {
        (&self.date, &self.started, &self.folder)
    }
}

/// Every committed set under `reports`: each folder with a `results.json`,
/// sorted by folder name. Folders without one (a criterion run's) are not sets.
pub fn sets(reports: &Path) -> anyhow::Result<Vec<Set>> {
    let entries = std::fs::read_dir(reports)
        .with_context(|| format!("cannot read the reports folder {}", reports.display()))?;
    let mut folders = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot read {}", reports.display()))?;
        let path = entry.path();
        if path.join("results.json").is_file() {
            folders.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    folders.sort();
    folders
        .iter()
        .map(|folder| {
            let path = reports.join(folder).join("results.json");
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            parse(folder, &text).with_context(|| format!("cannot read {}", path.display()))
        })
        .collect()
}

/// The newest set of `kind` that holds figure `id`.
pub fn newest(sets: &[Set], kind: Kind, id: u8) -> Option<&Set> {
    sets.iter()
        .filter(|set| set.kind == kind && set.figure(id).is_some())
        .max_by(|a, b| a.age_key().cmp(&b.age_key()))
}

/// Parses one set's `results.json`, in either family's format.
pub fn parse(folder: &str, text: &str) -> anyhow::Result<Set> {
    let json: Value = serde_json::from_str(text).context("not JSON")?;
    let sweep = &json["sweep"];
    let machine = &json["machine"];
    // The server format carries its scale as an object beside `sweep`; the
    // client format names its scale inside `sweep`.
    let (family, scale_name) = match json["scale"]["name"].as_str() {
        Some(name) => (Family::Server, name),
        None => (
            Family::Client,
            sweep["scale"]
                .as_str()
                .context("neither a client nor a server set: no scale")?,
        ),
    };
    let scale = match scale_name {
        "quick" => Scale::Quick,
        "full" => Scale::Full,
        other => anyhow::bail!("unknown scale {other:?}"),
    };
    let started = sweep["started"].as_str().unwrap_or_default().to_owned();
    let date = folder_date(folder)
        .or_else(|| started.get(..10).map(str::to_owned))
        .unwrap_or_default();
    let mut figures = json["figures"]
        .as_array()
        .context("no figures")?
        .iter()
        .map(|figure| match family {
            Family::Client => client_figure(figure),
            Family::Server => server_figure(figure),
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    // The article's scenario figures (server figures 5-7) sit beside the others.
    for scenario in json["scenarios"].as_array().into_iter().flatten() {
        figures.push(scenario_figure(scenario)?);
    }
    Ok(Set {
        folder: folder.to_owned(),
        date,
        started,
        command: sweep["command"].as_str().unwrap_or_default().to_owned(),
        kind: Kind { family, scale },
        machine: Machine {
            cores: machine["cores"].as_u64().context("no machine.cores")?,
            cpu_model: machine["cpu_model"]
                .as_str()
                .unwrap_or("unknown CPU")
                .to_owned(),
        },
        figures,
    })
}

/// `YYYY-MM-DD` at the start of a folder's name, as the sweeps name them.
fn folder_date(folder: &str) -> Option<String> {
    let date = folder.get(..10)?;
    let bytes = date.as_bytes();
    let digits = [0, 1, 2, 3, 5, 6, 8, 9]
        .iter()
        .all(|&i| bytes[i].is_ascii_digit());
    (digits && bytes[4] == b'-' && bytes[7] == b'-').then(|| date.to_owned())
}

/// The point fields of a client figure that a claim can read; a field that
/// is a median-and-range object keeps its range, a plain number has none.
const CLIENT_MEASURES: [&str; 5] = [
    "wall_ms",
    "efficiency",
    "kib_per_request",
    "cpu_per_batch_ms",
    "peak_rss_kb",
];

fn client_figure(json: &Value) -> anyhow::Result<Figure> {
    let (id, title) = figure_head(&json["figure"])?;
    // A figure without series (a format this reader does not know yet)
    // reads as a figure without curves: its claims say "not measured".
    let series: &[Value] = json["series"].as_array().map_or(&[], Vec::as_slice);
    let measures = CLIENT_MEASURES
        .iter()
        .map(|&measure| {
            let curves = series
                .iter()
                .map(|curve| Series {
                    label: curve["label"].as_str().unwrap_or_default().to_owned(),
                    points: curve["points"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|point| {
                            let x = point["n"].as_f64()?;
                            spread(x, &point[measure])
                        })
                        .collect(),
                })
                .collect();
            (measure.to_owned(), curves)
        })
        .collect();
    Ok(Figure {
        id,
        title,
        x_name: "N",
        io_ms: json["io_ms"].as_f64(),
        measures,
    })
}

/// A point from a `{median, min, max}` object or a plain number; `None`
/// for a null (a point without that measure).
fn spread(x: f64, value: &Value) -> Option<Point> {
    if let Some(number) = value.as_f64() {
        return Some(Point {
            x,
            median: number,
            min: number,
            max: number,
        });
    }
    Some(Point {
        x,
        median: value["median"].as_f64()?,
        min: value["min"].as_f64()?,
        max: value["max"].as_f64()?,
    })
}

fn server_figure(json: &Value) -> anyhow::Result<Figure> {
    let (id, title) = figure_head(&json["figure"])?;
    let panels: &[Value] = json["panels"].as_array().map_or(&[], Vec::as_slice);
    let measures = panels
        .iter()
        .map(|panel| {
            let name = panel[0].as_str().unwrap_or_default().to_owned();
            let curves = panel[1]
                .as_array()
                .into_iter()
                .flatten()
                .map(|curve| Series {
                    label: curve["label"].as_str().unwrap_or_default().to_owned(),
                    points: curve["points"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|point| {
                            Some(Point {
                                x: point[0].as_f64()?,
                                median: point[1].as_f64()?,
                                min: point[2].as_f64()?,
                                max: point[3].as_f64()?,
                            })
                        })
                        .collect(),
                })
                .collect();
            (name, curves)
        })
        .collect();
    let x_name = match json["figure"]["axis"].as_str() {
        Some("workers") => "W",
        Some("connections") => "C",
        _ => "x",
    };
    Ok(Figure {
        id,
        title,
        x_name,
        io_ms: None,
        measures,
    })
}

/// A scenario figure of the article's table: one bar per server. Its
/// measures are read per executor, the servers of one executor (FastAPI
/// at 1 and at W workers) as one series over their workers, so that a
/// claim's "best" is the executor's best configuration.
fn scenario_figure(json: &Value) -> anyhow::Result<Figure> {
    let (id, title) = figure_head(&json["figure"])?;
    let servers: &[Value] = json["servers"].as_array().map_or(&[], Vec::as_slice);
    let measure = |key: &str| {
        let mut curves: Vec<Series> = Vec::new();
        for server in servers {
            let executor = server["executor"].as_str().unwrap_or_default();
            let Some(x) = server["workers"].as_f64() else {
                continue;
            };
            let value = &server[key];
            let Some(point) = (|| {
                Some(Point {
                    x,
                    median: value[1].as_f64()?,
                    min: value[2].as_f64()?,
                    max: value[3].as_f64()?,
                })
            })() else {
                continue;
            };
            match curves.iter_mut().find(|curve| curve.label == executor) {
                Some(curve) => curve.points.push(point),
                None => curves.push(Series {
                    label: executor.to_owned(),
                    points: vec![point],
                }),
            }
        }
        for curve in &mut curves {
            curve.points.sort_by(|a, b| a.x.total_cmp(&b.x));
        }
        curves
    };
    Ok(Figure {
        id,
        title,
        x_name: "W",
        io_ms: None,
        measures: vec![
            (SCENARIO_QPS.to_owned(), measure("qps")),
            ("peak RSS (MiB)".to_owned(), measure("peak_rss_mib")),
            ("RSS at rest (MiB)".to_owned(), measure("rest_rss_mib")),
        ],
    })
}

/// The throughput measure of a scenario figure, named as figures 1's panel
/// is, so that one claim's reading works on either.
pub const SCENARIO_QPS: &str = "max sustainable RPS";

fn figure_head(figure: &Value) -> anyhow::Result<(u8, String)> {
    let id = figure["id"]
        .as_u64()
        .and_then(|id| u8::try_from(id).ok())
        .context("a figure without an id")?;
    let title = figure["title"].as_str().unwrap_or_default().to_owned();
    Ok((id, title))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_name_dates_its_set() {
        assert_eq!(
            folder_date("2026-11-26-server-quick-2c").as_deref(),
            Some("2026-11-26")
        );
        assert_eq!(folder_date("bench-2026-11-22-2c"), None);
        assert_eq!(folder_date("short"), None);
    }

    #[test]
    fn both_formats_read_into_one_shape() {
        let client = r#"{"machine":{"cores":2,"cpu_model":"AMD EPYC"},
            "sweep":{"scale":"quick","command":"runtime-lab sweep --quick","started":"2026-11-26 14:38:51 UTC"},
            "figures":[{"figure":{"id":1,"title":"1. Blocking"},"io_ms":100,"series":[
                {"label":"serial","points":[{"n":1,"wall_ms":{"median":102,"min":101,"max":103},"efficiency":0.98,"kib_per_request":null}]}]}]}"#;
        let set = parse("2026-11-26-quick-2c", client).expect("a client set");
        assert_eq!(set.kind, Kind::CLIENT_QUICK);
        let figure = set.figure(1).expect("figure 1");
        assert_eq!(
            figure.series("wall_ms", "serial").unwrap().points[0].max,
            103.0
        );
        assert_eq!(
            figure.series("efficiency", "serial").unwrap().points[0].min,
            0.98
        );
        assert!(
            figure
                .series("kib_per_request", "serial")
                .unwrap()
                .points
                .is_empty()
        );

        let server = r#"{"machine":{"cores":4,"cpu_model":"X"},"scale":{"name":"full"},
            "sweep":{"command":"runtime-lab sweep --server","started":"2026-11-27 09:00:00 UTC"},
            "figures":[{"figure":{"id":1,"title":"1. RPS"},"panels":[["max sustainable RPS",
                [{"label":"tokio-mt","points":[[1.0,200.0,190.0,210.0]]}]]]}]}"#;
        let set = parse("2026-11-27-server-full-4c", server).expect("a server set");
        assert_eq!(set.kind, Kind::SERVER_FULL);
        assert_eq!(set.machine.cores, 4);
        let point = set
            .figure(1)
            .unwrap()
            .series("max sustainable RPS", "tokio-mt")
            .unwrap()
            .points[0];
        assert_eq!(
            (point.x, point.median, point.min, point.max),
            (1.0, 200.0, 190.0, 210.0)
        );
    }

    #[test]
    fn an_article_set_reads_each_executor_as_one_series_over_its_workers() {
        let article = r#"{"machine":{"cores":2,"cpu_model":"X"},"scale":{"name":"quick"},
            "sweep":{"command":"runtime-lab sweep --server --figures 5","started":"2026-12-04 19:00:00 UTC"},
            "figures":[],
            "scenarios":[{"figure":{"id":5,"title":"5. ping"},"servers":[
                {"executor":"py-uvicorn","label":"py-uvicorn -w 2","workers":2,"qps":[0.0,900.0,850.0,950.0]},
                {"executor":"py-uvicorn","label":"py-uvicorn -w 1","workers":1,"qps":[0.0,1000.0,990.0,1010.0]},
                {"executor":"go-gin","label":"go-gin -w 2","workers":2,"qps":null}]}]}"#;
        let set = parse("2026-12-04-server-article-quick-2c", article).expect("an article set");
        assert_eq!(set.kind, Kind::SERVER_QUICK);
        let figure = set.figure(5).expect("figure 5");
        let uvicorn = figure
            .series(SCENARIO_QPS, "py-uvicorn")
            .expect("FastAPI's series");
        let xs: Vec<f64> = uvicorn.points.iter().map(|point| point.x).collect();
        assert_eq!(xs, [1.0, 2.0]);
        assert_eq!(uvicorn.at(1.0).unwrap().median, 1000.0);
        // A server without a measured rate has no point, and so no series.
        assert!(figure.series(SCENARIO_QPS, "go-gin").is_none());
    }
}
