//! libyaml's event parser behind a safe interface: owned events with byte offsets, lines and
//! columns, and errors with where they happened and in what.
//!
//! `unsafe-libyaml` is libyaml 0.2.5 translated mechanically to Rust (the parser serde_yaml is
//! built on), so it accepts exactly what libyaml, and so go-yaml, accepts. Its interface is
//! libyaml's C one; this module is the only `unsafe` code in the crate and keeps it to driving
//! that interface. (`libyaml-safer`, a safe port, was tried first and measured: it panics on a
//! block scalar that ends the file without a line break, which real Tekton files do.)

use std::ffi::CStr;
use std::marker::PhantomData;
use std::mem::MaybeUninit;

/// A place in the input: byte offset, 0-based line, 0-based column in characters.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Mark {
    pub index: usize,
    pub line: usize,
    pub column: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
    Folded,
}

#[derive(Debug)]
pub(super) enum EventData {
    StreamStart,
    StreamEnd,
    DocumentStart,
    DocumentEnd,
    Alias {
        anchor: String,
    },
    Scalar {
        anchor: Option<String>,
        tag: Option<String>,
        value: String,
        style: Style,
    },
    SequenceStart {
        anchor: Option<String>,
    },
    SequenceEnd,
    MappingStart {
        anchor: Option<String>,
    },
    MappingEnd,
}

#[derive(Debug)]
pub(super) struct Event {
    pub data: EventData,
    pub start: Mark,
    pub end: Mark,
}

/// Why the input is not YAML.
#[derive(Debug)]
pub(super) struct Error {
    pub problem: String,
    pub problem_mark: Mark,
    /// Where a reader error (a character YAML does not allow) is, as a byte offset.
    pub reader_offset: Option<usize>,
    /// What the parser was in the middle of, and where that began.
    pub context: Option<(String, Mark)>,
}

/// A libyaml parser over a borrowed input.
pub(super) struct Parser<'input> {
    raw: Box<MaybeUninit<unsafe_libyaml::yaml_parser_t>>,
    failed: bool,
    _input: PhantomData<&'input [u8]>,
}

impl<'input> Parser<'input> {
    pub fn new(input: &'input [u8]) -> Parser<'input> {
        let mut raw = Box::new(MaybeUninit::<unsafe_libyaml::yaml_parser_t>::uninit());
        // SAFETY: `raw` is a valid place for a parser, initialized here before any other use;
        // the input outlives the parser (the lifetime), and libyaml only reads it.
        unsafe {
            let parser = raw.as_mut_ptr();
            if unsafe_libyaml::yaml_parser_initialize(parser).fail {
                panic!("libyaml could not allocate a parser");
            }
            unsafe_libyaml::yaml_parser_set_input_string(
                parser,
                input.as_ptr(),
                input.len() as u64,
            );
        }
        Parser {
            raw,
            failed: false,
            _input: PhantomData,
        }
    }

    /// The next event. After an error, every call returns the same error again.
    pub fn next_event(&mut self) -> Result<Event, Error> {
        // SAFETY: the parser was initialized in `new`; libyaml fills `event` when it returns OK,
        // and the event is converted to owned data before `yaml_event_delete` frees it. After a
        // failure libyaml must not be called again, so the error is read from its state instead.
        unsafe {
            let parser = self.raw.as_mut_ptr();
            if self.failed {
                return Err(error_of(parser));
            }
            let mut event = MaybeUninit::<unsafe_libyaml::yaml_event_t>::uninit();
            if unsafe_libyaml::yaml_parser_parse(parser, event.as_mut_ptr()).fail {
                self.failed = true;
                return Err(error_of(parser));
            }
            let event = event.as_mut_ptr();
            let owned = Event {
                data: data_of(&*event),
                start: mark((*event).start_mark),
                end: mark((*event).end_mark),
            };
            unsafe_libyaml::yaml_event_delete(event);
            Ok(owned)
        }
    }
}

impl Drop for Parser<'_> {
    fn drop(&mut self) {
        // SAFETY: initialized in `new`, deleted once.
        unsafe { unsafe_libyaml::yaml_parser_delete(self.raw.as_mut_ptr()) }
    }
}

fn mark(mark: unsafe_libyaml::yaml_mark_t) -> Mark {
    Mark {
        index: mark.index as usize,
        line: mark.line as usize,
        column: mark.column as usize,
    }
}

/// A NUL-terminated libyaml string, or None for a null pointer.
///
/// # Safety
/// `ptr` is null or points to a NUL-terminated string that lives for the call.
unsafe fn text(ptr: *const u8) -> Option<String> {
    if ptr.is_null() {
        return None;
    }
    Some(CStr::from_ptr(ptr.cast()).to_string_lossy().into_owned())
}

/// # Safety
/// `event` was filled by a successful `yaml_parser_parse` and not yet deleted.
unsafe fn data_of(event: &unsafe_libyaml::yaml_event_t) -> EventData {
    match event.type_ {
        unsafe_libyaml::YAML_STREAM_START_EVENT => EventData::StreamStart,
        unsafe_libyaml::YAML_DOCUMENT_START_EVENT => EventData::DocumentStart,
        unsafe_libyaml::YAML_DOCUMENT_END_EVENT => EventData::DocumentEnd,
        unsafe_libyaml::YAML_ALIAS_EVENT => EventData::Alias {
            anchor: text(event.data.alias.anchor).unwrap_or_default(),
        },
        unsafe_libyaml::YAML_SCALAR_EVENT => {
            let scalar = event.data.scalar;
            let bytes = std::slice::from_raw_parts(scalar.value, scalar.length as usize);
            EventData::Scalar {
                anchor: text(scalar.anchor),
                tag: text(scalar.tag),
                value: String::from_utf8_lossy(bytes).into_owned(),
                style: match scalar.style {
                    unsafe_libyaml::YAML_SINGLE_QUOTED_SCALAR_STYLE => Style::SingleQuoted,
                    unsafe_libyaml::YAML_DOUBLE_QUOTED_SCALAR_STYLE => Style::DoubleQuoted,
                    unsafe_libyaml::YAML_LITERAL_SCALAR_STYLE => Style::Literal,
                    unsafe_libyaml::YAML_FOLDED_SCALAR_STYLE => Style::Folded,
                    _ => Style::Plain,
                },
            }
        }
        unsafe_libyaml::YAML_SEQUENCE_START_EVENT => EventData::SequenceStart {
            anchor: text(event.data.sequence_start.anchor),
        },
        unsafe_libyaml::YAML_SEQUENCE_END_EVENT => EventData::SequenceEnd,
        unsafe_libyaml::YAML_MAPPING_START_EVENT => EventData::MappingStart {
            anchor: text(event.data.mapping_start.anchor),
        },
        unsafe_libyaml::YAML_MAPPING_END_EVENT => EventData::MappingEnd,
        _ => EventData::StreamEnd,
    }
}

/// # Safety
/// `parser` is an initialized parser whose last call failed.
unsafe fn error_of(parser: *const unsafe_libyaml::yaml_parser_t) -> Error {
    let parser = &*parser;
    Error {
        problem: text(parser.problem.cast()).unwrap_or_else(|| "invalid YAML".to_string()),
        problem_mark: mark(parser.problem_mark),
        // The reader knows a byte offset only.
        reader_offset: (parser.error == unsafe_libyaml::YAML_READER_ERROR)
            .then_some(parser.problem_offset as usize),
        context: text(parser.context.cast()).map(|c| (c, mark(parser.context_mark))),
    }
}
