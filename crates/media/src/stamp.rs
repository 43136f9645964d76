//! The visible evidence stamp: capture time, WGS-84 position and grid code
//! burned into the bottom-left corner of the stored photo, in the DejaVu
//! Sans Mono font the project ships (`assets/fonts`).

use ab_glyph::{point, Font, FontRef, PxScale, ScaleFont};

use crate::{GridCode, LonLat};

/// The font file, embedded so the stamp never depends on system fonts.
const FONT: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSansMono.ttf");

/// The three lines of text a stamp shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StampText {
    /// The lines, top to bottom.
    pub lines: Vec<String>,
}

impl StampText {
    /// Builds the lines from what is known; unknown parts say so rather than
    /// being left out, so a reviewer sees what the evidence lacks.
    pub fn new(time: Option<&str>, position: Option<LonLat>, grid: Option<&GridCode>) -> Self {
        let time = time.map_or_else(|| "time unknown".to_string(), |t| t.replace('T', " "));
        let position = position.map_or_else(
            || "position unknown".to_string(),
            |p| {
                format!(
                    "{:.6}{} {:.6}{} WGS-84",
                    p.lat.abs(),
                    if p.lat < 0.0 { 'S' } else { 'N' },
                    p.lon.abs(),
                    if p.lon < 0.0 { 'W' } else { 'E' }
                )
            },
        );
        let grid = grid.map_or_else(|| "grid unknown".to_string(), |g| format!("grid {g}"));
        StampText {
            lines: vec![time, position, grid],
        }
    }
}

/// Draws `text` into the bottom-left corner of a packed RGB image: white
/// glyphs on a darkened panel, sized relative to the image's short edge.
pub fn draw(rgb: &mut [u8], width: u32, height: u32, text: &StampText) {
    let font = FontRef::try_from_slice(FONT).expect("the embedded DejaVu font parses");
    let short = width.min(height) as f32;
    let px = (short / 48.0).clamp(9.0, 72.0);
    let scale = PxScale::from(px);
    let scaled = font.as_scaled(scale);
    let line_h = scaled.height() + scaled.line_gap();
    let margin = (px * 0.5).round();
    let text_w = text
        .lines
        .iter()
        .map(|l| {
            l.chars()
                .map(|c| scaled.h_advance(font.glyph_id(c)))
                .sum::<f32>()
        })
        .fold(0.0, f32::max);
    let panel_w = text_w + 2.0 * margin;
    let panel_h = line_h * text.lines.len() as f32 + 2.0 * margin;
    let x0 = 0.0;
    let y0 = (height as f32 - panel_h).max(0.0);

    // Darken the panel to 35 % so white text reads on any background.
    let (px0, py0) = (x0 as u32, y0 as u32);
    let px1 = ((x0 + panel_w).ceil() as u32).min(width);
    for y in py0..height {
        let row = (y * width) as usize * 3;
        for x in px0..px1 {
            let i = row + x as usize * 3;
            for c in &mut rgb[i..i + 3] {
                *c = (u16::from(*c) * 35 / 100) as u8;
            }
        }
    }

    for (n, line) in text.lines.iter().enumerate() {
        let baseline = y0 + margin + scaled.ascent() + line_h * n as f32;
        let mut caret = x0 + margin;
        for c in line.chars() {
            let id = font.glyph_id(c);
            let glyph = id.with_scale_and_position(scale, point(caret, baseline));
            caret += scaled.h_advance(id);
            let Some(outline) = font.outline_glyph(glyph) else {
                continue;
            };
            let bounds = outline.px_bounds();
            outline.draw(|gx, gy, coverage| {
                let x = bounds.min.x as i64 + i64::from(gx);
                let y = bounds.min.y as i64 + i64::from(gy);
                if x < 0 || y < 0 || x >= i64::from(width) || y >= i64::from(height) {
                    return;
                }
                let i = (y as usize * width as usize + x as usize) * 3;
                let a = coverage.clamp(0.0, 1.0);
                for c in &mut rgb[i..i + 3] {
                    *c = (f32::from(*c) * (1.0 - a) + 255.0 * a).round() as u8;
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_parts_are_spelled_out() {
        let t = StampText::new(None, None, None);
        assert_eq!(
            t.lines,
            vec!["time unknown", "position unknown", "grid unknown"]
        );
    }

    #[test]
    fn southern_and_western_positions_use_s_and_w() {
        let t = StampText::new(
            Some("2026-11-27T09:15:02+08:00"),
            LonLat::new(-70.5, -33.25),
            None,
        );
        assert_eq!(t.lines[0], "2026-11-27 09:15:02+08:00");
        assert_eq!(t.lines[1], "33.250000S 70.500000W WGS-84");
    }

    #[test]
    fn drawing_changes_only_the_bottom_left() {
        let (w, h) = (400u32, 300u32);
        let mut img = vec![128u8; (w * h * 3) as usize];
        let text = StampText::new(Some("2026-11-27T09:15:02"), None, None);
        draw(&mut img, w, h, &text);
        let at = |x: u32, y: u32| img[((y * w + x) * 3) as usize];
        assert_ne!(at(2, h - 2), 128, "bottom-left corner is stamped");
        assert_eq!(at(w - 2, 2), 128, "top-right corner is untouched");
        assert_eq!(at(w - 2, h - 2), 128, "bottom-right corner is untouched");
    }
}
