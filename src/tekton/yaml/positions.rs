//! Where a character of a scalar's value sits in the source. A value is its source lines with
//! indentation, quotes, escapes and line folding taken out; this module walks the source lines
//! again, decodes each into the characters it contributes, and aligns those with the value
//! (what lies between them is folding: spaces and line breaks). When the alignment fails (a form
//! this walk does not model), the position of the scalar's start is used.

use super::{Node, Pos, ScalarStyle};

/// One decoded character and where it came from.
type Mapped = (char, Pos);

pub(super) fn position_in_scalar(node: &Node, src: &str, line: usize, column: usize) -> Pos {
    let Some(text) = node.as_str() else {
        return node.pos;
    };
    let index = char_index(text, line, column);
    match map_value(node, text, src) {
        Some(positions) => match positions.get(index) {
            Some(pos) => *pos,
            None => positions.last().map_or(node.pos, |p| Pos {
                line: p.line,
                column: p.column + 1,
            }),
        },
        None => approximate(node, line, column),
    }
}

/// Without an alignment: block scalars line by line from their first content line, anything
/// else at its start.
fn approximate(node: &Node, line: usize, column: usize) -> Pos {
    match node.style() {
        Some(ScalarStyle::Literal | ScalarStyle::Folded) => Pos {
            line: node.pos.line + line,
            column: node.pos.column + column,
        },
        _ => node.pos,
    }
}

/// The character index of (line, column) in `text`; a column past its line's end is the end.
fn char_index(text: &str, line: usize, column: usize) -> usize {
    let mut index = 0;
    for (current, content) in text.split('\n').enumerate() {
        let width = content.chars().count();
        if current == line {
            return index + column.min(width);
        }
        index += width + 1;
    }
    text.chars().count()
}

/// The first content line of a block scalar whose indicator is at byte `start`, at its
/// indentation.
pub(super) fn block_content_start(src: &str, start: usize) -> Option<Pos> {
    let header_end = start + src.get(start..)?.find('\n')?;
    let header_line = line_of(src, start);
    for (k, line) in src[header_end + 1..].split('\n').enumerate() {
        let line = line.trim_end_matches('\r');
        let indent = line.chars().take_while(|c| *c == ' ').count();
        if indent < line.chars().count() {
            return Some(Pos {
                line: header_line + 1 + k,
                column: indent + 1,
            });
        }
    }
    None
}

/// The position of byte `at`.
pub(super) fn pos_at(src: &str, at: usize) -> Pos {
    Pos {
        line: line_of(src, at),
        column: column_of(src, at),
    }
}

/// 1-based line of byte `at`.
fn line_of(src: &str, at: usize) -> usize {
    1 + src.as_bytes()[..at].iter().filter(|b| **b == b'\n').count()
}

/// 1-based column (in characters) of byte `at`.
fn column_of(src: &str, at: usize) -> usize {
    let line_start = src[..at].rfind('\n').map_or(0, |i| i + 1);
    1 + src[line_start..at].chars().count()
}

/// A source position for every character of `text`, or None when the source does not align.
fn map_value(node: &Node, text: &str, src: &str) -> Option<Vec<Pos>> {
    let style = node.style()?;
    let raw = src.get(node.span.start..node.span.end)?;
    let first = pos_at(src, node.span.start);
    let lines: Vec<(Pos, &str)> = raw
        .split('\n')
        .enumerate()
        .map(|(k, l)| {
            let column = if k == 0 { first.column } else { 1 };
            let pos = Pos {
                line: first.line + k,
                column,
            };
            (pos, l.strip_suffix('\r').unwrap_or(l))
        })
        .collect();
    let pieces = match style {
        ScalarStyle::Literal | ScalarStyle::Folded => block_pieces(&lines),
        ScalarStyle::Plain => flow_pieces(&lines, None),
        ScalarStyle::SingleQuoted => flow_pieces(&lines, Some('\'')),
        ScalarStyle::DoubleQuoted => flow_pieces(&lines, Some('"')),
    };
    align(text, &pieces)
}

/// The characters of `line` from character `skip` on, with their positions.
fn chars_from(pos: Pos, line: &str, skip: usize) -> Vec<Mapped> {
    line.chars()
        .enumerate()
        .skip(skip)
        .map(|(i, c)| {
            (
                c,
                Pos {
                    line: pos.line,
                    column: pos.column + i,
                },
            )
        })
        .collect()
}

/// Block scalars: the lines after the header, less the indentation of the first content line.
fn block_pieces(lines: &[(Pos, &str)]) -> Vec<Vec<Mapped>> {
    let content = &lines[1.min(lines.len())..];
    let indent = content
        .iter()
        .find(|(_, l)| l.chars().any(|c| c != ' '))
        .map_or(0, |(_, l)| l.chars().take_while(|c| *c == ' ').count());
    content
        .iter()
        .map(|(pos, line)| chars_from(*pos, line, indent))
        .collect()
}

/// Plain and quoted scalars: each line trimmed of the whitespace folding removes, quotes
/// dropped, escapes decoded.
fn flow_pieces(lines: &[(Pos, &str)], quote: Option<char>) -> Vec<Vec<Mapped>> {
    let last = lines.len().saturating_sub(1);
    let mut pieces = Vec::new();
    for (k, (pos, line)) in lines.iter().enumerate() {
        let mut chars = chars_from(*pos, line, 0);
        if k == 0 && quote.is_some() && !chars.is_empty() {
            chars.remove(0);
        }
        if k == last && quote.is_some() {
            chars.pop();
        }
        if k > 0 {
            let leading = chars.iter().take_while(|(c, _)| *c == ' ' || *c == '\t');
            let leading = leading.count();
            chars.drain(..leading);
        }
        if k < last {
            let escaped_break = quote == Some('"')
                && chars.last().is_some_and(|(c, _)| *c == '\\')
                && chars.iter().rev().take_while(|(c, _)| *c == '\\').count() % 2 == 1;
            if !escaped_break {
                while chars.last().is_some_and(|(c, _)| *c == ' ' || *c == '\t') {
                    chars.pop();
                }
            }
        }
        pieces.push(match quote {
            Some('\'') => decode_single(chars),
            Some(_) => decode_double(chars),
            None => chars,
        });
    }
    pieces
}

fn decode_single(chars: Vec<Mapped>) -> Vec<Mapped> {
    let mut out = Vec::with_capacity(chars.len());
    let mut iter = chars.into_iter().peekable();
    while let Some((c, pos)) = iter.next() {
        if c == '\'' && iter.peek().is_some_and(|(n, _)| *n == '\'') {
            iter.next();
        }
        out.push((c, pos));
    }
    out
}

fn decode_double(chars: Vec<Mapped>) -> Vec<Mapped> {
    let mut out = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        let (c, pos) = chars[i];
        i += 1;
        if c != '\\' {
            out.push((c, pos));
            continue;
        }
        let Some((escape, _)) = chars.get(i).copied() else {
            break; // an escaped line break: nothing
        };
        i += 1;
        let hex_digits = match escape {
            'x' => 2,
            'u' => 4,
            'U' => 8,
            _ => 0,
        };
        let decoded = if hex_digits > 0 {
            let hex: String = chars
                .iter()
                .skip(i)
                .take(hex_digits)
                .map(|(c, _)| *c)
                .collect();
            i += hex_digits;
            u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32)
        } else {
            Some(match escape {
                '0' => '\0',
                'a' => '\x07',
                'b' => '\x08',
                't' | '\t' => '\t',
                'n' => '\n',
                'v' => '\x0b',
                'f' => '\x0c',
                'r' => '\r',
                'e' => '\x1b',
                'N' => '\u{85}',
                '_' => '\u{a0}',
                'L' => '\u{2028}',
                'P' => '\u{2029}',
                other => other,
            })
        };
        if let Some(decoded) = decoded {
            out.push((decoded, pos));
        }
    }
    out
}

/// Finds each piece in `text` in order, allowing only folding whitespace between them.
fn align(text: &str, pieces: &[Vec<Mapped>]) -> Option<Vec<Pos>> {
    let value: Vec<char> = text.chars().collect();
    let mut positions: Vec<Option<Pos>> = vec![None; value.len()];
    let mut cursor = 0;
    for piece in pieces.iter().filter(|p| !p.is_empty()) {
        let mut start = cursor;
        loop {
            let fits = value.len() >= start + piece.len()
                && piece.iter().zip(&value[start..]).all(|((c, _), v)| c == v);
            if fits {
                break;
            }
            match value.get(start) {
                Some(' ' | '\n' | '\t') => start += 1,
                _ => return None,
            }
        }
        for (offset, (_, pos)) in piece.iter().enumerate() {
            positions[start + offset] = Some(*pos);
        }
        cursor = start + piece.len();
    }
    if value[cursor..]
        .iter()
        .any(|c| !matches!(c, ' ' | '\n' | '\t'))
    {
        return None;
    }
    // Folding characters sit where the next source character does (or after the last one).
    let mut next: Option<Pos> = None;
    let mut filled = vec![Pos::default(); value.len()];
    let last = positions.iter().rev().flatten().next().map(|p| Pos {
        line: p.line,
        column: p.column + 1,
    });
    for i in (0..value.len()).rev() {
        if let Some(pos) = positions[i] {
            next = Some(pos);
        }
        filled[i] = positions[i].or(next).or(last).unwrap_or_default();
    }
    Some(filled)
}
