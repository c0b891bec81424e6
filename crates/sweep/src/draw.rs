//! Drawing, shared by every figure family: one colour per executor in every
//! figure, line styles by language, the embedded font, and the PNG-then-SVG
//! output of one drawing.
//!
//! Text is laid out with ab_glyph from Noto Sans Regular, embedded in the
//! binary by the `ttf-noto-sans` crate (Apache License 2.0), so plots render
//! the same on a bare machine without system fonts or fontconfig.

use anyhow::anyhow;
use lab::baselines::{self, Language};
use plotters::chart::ChartContext;
use plotters::coord::{CoordTranslate, Shift};
use plotters::prelude::*;
use std::path::Path;
use std::sync::Once;

/// Plot size in pixels.
pub const SIZE: (u32, u32) = (1100, 720);

/// One colour per executor, the same in every figure (Tableau 10 and one more).
const PALETTE: [RGBColor; 11] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(0, 0, 128),
];

/// One colour per baseline, in `baselines::ALL`'s order, unlike any
/// executor's: dark and saturated, since they are also drawn dashed (Python)
/// or dotted (Go) with their own markers. A Python baseline on another
/// interpreter than the system's gets a shade of its colour
/// ([`interpreter_shade`]).
const BASELINE_PALETTE: [RGBColor; 13] = [
    RGBColor(110, 0, 0),
    RGBColor(230, 0, 230),
    RGBColor(255, 190, 0),
    RGBColor(75, 0, 150),
    RGBColor(0, 95, 80),
    RGBColor(0, 205, 140),
    RGBColor(200, 90, 0),
    RGBColor(120, 120, 0),
    RGBColor(0, 60, 200),
    RGBColor(90, 160, 0),
    RGBColor(180, 0, 90),
    RGBColor(0, 140, 200),
    RGBColor(100, 60, 20),
];

/// The shade of a baseline's colour on `interpreter`: the colour itself on
/// the system's, lighter on 3.13, darker on 3.13t (free threads).
fn interpreter_shade(colour: RGBColor, interpreter: Option<&baselines::Interpreter>) -> RGBColor {
    let RGBColor(r, g, b) = colour;
    let towards = |channel: u8, target: f64, share: f64| {
        (f64::from(channel) + (target - f64::from(channel)) * share).round() as u8
    };
    match interpreter {
        Some(interpreter) if interpreter.name != baselines::SYSTEM_INTERPRETER => {
            let (target, share) = if interpreter.free_threaded {
                (0.0, 0.45)
            } else {
                (255.0, 0.45)
            };
            RGBColor(
                towards(r, target, share),
                towards(g, target, share),
                towards(b, target, share),
            )
        }
        _ => colour,
    }
}

/// The colour of `executor`, the same in every figure of every sweep.
pub fn colour(executor: &str) -> RGBColor {
    let (program, _) = baselines::split(executor);
    if let Some(index) = baselines::ALL.iter().position(|b| b.name == program) {
        let colour = BASELINE_PALETTE[index % BASELINE_PALETTE.len()];
        return interpreter_shade(colour, baselines::interpreter_of(executor));
    }
    let index = crate::DESIGN_EXECUTORS
        .iter()
        .position(|&name| name == executor)
        .unwrap_or(PALETTE.len() - 1);
    PALETTE[index]
}

/// A series' line: solid for Rust (short dashes with `--gil` where a figure
/// draws it so), long dashes for Python, dots for Go.
pub fn dashes(language: Language, gil: bool) -> Option<(u32, u32)> {
    match language {
        Language::Rust if gil => Some((8, 5)),
        Language::Rust => None,
        Language::Python => Some((12, 6)),
        Language::Go => Some((3, 5)),
    }
}

/// Registers the embedded font as plotters' `sans-serif`, once per process.
///
/// plotters is built with `ab_glyph` and no system-font lookup, so every
/// plot drawn in this process needs it: the sweep's, and criterion's charts
/// in the benches, which call this before criterion draws.
pub fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if plotters::style::register_font("sans-serif", FontStyle::Normal, ttf_noto_sans::REGULAR)
            .is_err()
        {
            // The font is compiled in; failing to parse it is a build defect.
            panic!("the embedded Noto Sans font does not parse");
        }
    });
}

/// A figure that draws itself the same way on any plotters backend, so that
/// one description gives both the PNG and the SVG.
pub trait Drawing {
    /// Draws on `root`, a blank area of [`Drawing::size`].
    fn draw_on<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>;

    /// The size in pixels.
    fn size(&self) -> (u32, u32) {
        SIZE
    }
}

/// Draws `drawing` to `png`, then to `svg`.
pub fn save(drawing: &impl Drawing, png: &Path, svg: &Path) -> anyhow::Result<()> {
    register_font();
    {
        let root = BitMapBackend::new(png, drawing.size()).into_drawing_area();
        drawing.draw_on(&root)?;
        root.present()
            .map_err(|error| anyhow!("cannot write {}: {error}", png.display()))?;
    }
    let root = SVGBackend::new(svg, drawing.size()).into_drawing_area();
    drawing.draw_on(&root)?;
    root.present()
        .map_err(|error| anyhow!("cannot write {}: {error}", svg.display()))
}

/// Writes `figN.png` and `figN.svg` into `out`, each through a temporary
/// name and a rename, so that a reader never sees half a plot.
pub fn write_figure(out: &Path, id: u8, drawing: &impl Drawing) -> anyhow::Result<()> {
    use anyhow::Context;
    let (png, svg) = (format!("fig{id}.png"), format!("fig{id}.svg"));
    let (png_partial, svg_partial) = (crate::partial(out, &png), crate::partial(out, &svg));
    save(drawing, &png_partial, &svg_partial)
        .with_context(|| format!("cannot plot figure {id}"))?;
    for (from, name) in [(png_partial, png), (svg_partial, svg)] {
        std::fs::rename(&from, out.join(&name))
            .with_context(|| format!("cannot write {}", out.join(&name).display()))?;
    }
    Ok(())
}

/// The error of a plotters drawing call, as an `anyhow` error.
pub fn failed<E: std::fmt::Debug>(error: E) -> anyhow::Error {
    anyhow!("cannot draw: {error:?}")
}

/// `items` in legend order: grouped by language, Rust first (a stable sort,
/// so each group keeps its order), each paired with the language whose
/// group it opens, when the legend holds more than one language.
pub fn by_language<T>(
    items: impl IntoIterator<Item = T>,
    executor: impl Fn(&T) -> &str,
) -> Vec<(Option<Language>, T)> {
    let mut ordered: Vec<T> = items.into_iter().collect();
    ordered.sort_by_key(|item| Language::of(executor(item)));
    let grouped = ordered
        .iter()
        .any(|item| Language::of(executor(item)) != Language::Rust);
    let mut group = None;
    ordered
        .into_iter()
        .map(|item| {
            let language = Language::of(executor(&item));
            let opens = (grouped && group != Some(language)).then(|| {
                group = Some(language);
                language
            });
            (opens, item)
        })
        .collect()
}

/// A legend line that names a language's group ("Python:"), with no mark.
pub fn legend_heading<'a, DB, CT>(
    chart: &mut ChartContext<'a, DB, CT>,
    language: Language,
) -> anyhow::Result<()>
where
    DB: DrawingBackend + 'a,
    CT: CoordTranslate,
    CT::From: Clone + 'static,
{
    chart
        .draw_series(std::iter::empty::<EmptyElement<CT::From, DB>>())
        .map_err(failed)?
        .label(format!("{}:", language.as_str()))
        .legend(|(x, y)| EmptyElement::at((x, y)));
    Ok(())
}
