//! Logical signatures (`.ldb`): a target description block, a logical expression over subsignature match
//! counts, and the subsignatures themselves.
//!
//! The expression grammar is not a conventional one, and this module reproduces ClamAV's (`cli_ac_chklsig` in
//! `matcher-ac.c`) rather than a textbook precedence:
//!
//! - at the top level of an expression the text is split at the *first* `&` or `|`, so operators group to the
//!   right: `0&1|2` is `0&(1|2)`;
//! - inside parentheses it is split at the *last* operator of that level, so they group to the left:
//!   `(0&1|2)` is `((0&1)|2)`;
//! - `A=X`, `A>X`, `A<X` on one subsignature compare its match count (a `,Y` there is ignored); on a
//!   parenthesised group they compare the group's count, the sum of the counts of its operands that are true,
//!   and `,Y` also asks that at least `Y` different subsignatures contributed; a group with a count condition
//!   contributes no subsignature identities to an enclosing group's `,Y` test (a ClamAV quirk, kept);
//! - `(0)` is `0`, but `(0)=1` and `((0|1))>1` are refused.
//!
//! `clamscan` confirmed each of these (see the tests). The parser builds n-ary nodes for chains of one operator
//! and bounds the nesting at [`MAX_EXPRESSION_DEPTH`], so neither parsing nor evaluation can exhaust the stack.

use std::ops::RangeInclusive;

use super::body::{self, Context, Modifiers, Offset, Pattern, parse_offset};
use super::{
    Flevel, Line, SkipReason, SyntaxError, Target, chomp, decimal_field, is_comment, is_number, refuse, scan_unsigned,
    show, split_fields,
};

/// The most subsignatures a logical signature may have (ClamAV's `MAX_LDB_SUBSIGS`).
pub const MAX_SUBSIGNATURES: usize = 64;
/// The deepest nesting of the logical expression accepted (parentheses, and alternations of `&` and `|`).
/// ClamAV has no such limit; real signatures stay far below it.
pub const MAX_EXPRESSION_DEPTH: usize = 64;
/// ClamAV reads at most this many `;`-separated fields (name, attributes, expression, 64 subsignatures, and
/// one more to notice too many).
const LOGICAL_FIELDS: usize = 68;
/// ClamAV reads at most this many `,`-separated attributes.
const ATTRIBUTE_FIELDS: usize = 10;
/// Engine level that introduced the attributes beyond `Target` and `Engine`.
const NEW_ATTRIBUTES_FLEVEL: u32 = 51;
/// The trigger ClamAV accepts for a regular-expression subsignature without checking it (`PCRE_BYPASS`).
const TRIGGER_BYPASS: &[u8] = b"7374756c747a676574737265676578";

/// One `.ldb` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogicalSignature {
    /// The signature name.
    pub name: String,
    /// The target description block.
    pub target_description: TargetDescription,
    /// When the signature matches, in terms of subsignature match counts.
    pub expression: Expression,
    /// The subsignatures, by index.
    pub subsignatures: Vec<SubSignature>,
}

/// The target description block (`Engine:51-255,Target:1,...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetDescription {
    /// `Engine:a-b`, the functionality-level range (unbounded when absent). It contains
    /// [`FUNCTIONALITY_LEVEL`](super::FUNCTIONALITY_LEVEL), or the line would have been skipped.
    pub engine: Flevel,
    /// `Target:n` (required).
    pub target: Target,
    /// `FileSize:a-b`: the part's size must lie in this range.
    pub file_size: Option<RangeInclusive<u32>>,
    /// `Container:CL_TYPE_*`: the type of the container directly holding the part; `CL_TYPE_ANY` means the part
    /// is not inside any container.
    pub container: Option<String>,
    /// Attributes the scanner cannot honour yet, in order: `EntryPoint`, `NumberOfSections`, `Intermediates`,
    /// `IconGroup1`, `IconGroup2`, `HandlerType`. A signature with `HandlerType` never alerts in ClamAV (it
    /// re-scans the file as another type instead).
    pub unsupported: Vec<Attribute>,
}

/// One `Key:Value` attribute of a target description block, kept as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// The attribute name.
    pub key: String,
    /// Its value.
    pub value: String,
}

/// One subsignature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubSignature {
    /// A body pattern with an optional offset and modifiers.
    Content {
        /// Where the pattern must start (`*` when not given).
        offset: Offset,
        /// The `::` modifiers.
        modifiers: Modifiers,
        /// The compiled pattern; two for `::wa` (wide first), either of which counts as a match.
        patterns: Vec<Pattern>,
    },
    /// A subsignature the scanner cannot evaluate yet; it is parsed and validated as far as ClamAV does at load
    /// time and kept so the scanner can report the signature.
    Unsupported {
        /// What kind it is.
        kind: SubSignatureKind,
        /// The subsignature as written.
        text: String,
    },
}

/// Kinds of subsignatures the scanner cannot evaluate yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubSignatureKind {
    /// `[offset:]Trigger/regex/[flags]`.
    RegularExpression,
    /// `N(>>offset#options#comparisons)`.
    ByteCompare,
    /// `${min-max}group$`.
    Macro,
    /// `fuzzy_img#hash[#distance]`.
    ImageFuzzyHash,
}

/// How a count condition compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Comparison {
    /// `=`: exactly.
    Equal,
    /// `>`: more than.
    Greater,
    /// `<`: fewer than.
    Less,
}

/// `=X`, `>X`, `<X`, `=X,Y`, `>X,Y`, `<X,Y`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct CountCondition {
    /// How the count is compared with `count`.
    pub comparison: Comparison,
    /// `X`.
    pub count: u32,
    /// `Y`: at least this many different subsignatures must have contributed (0: no requirement). Always 0 on a
    /// single subsignature, where ClamAV ignores it.
    pub distinct: u32,
}

impl CountCondition {
    fn compare(&self, value: u64) -> bool {
        let count = u64::from(self.count);
        match self.comparison {
            Comparison::Equal => value == count,
            Comparison::Greater => value > count,
            Comparison::Less => value < count,
        }
    }
}

/// A logical expression over subsignature match counts.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Expression {
    /// A subsignature: true when it matched at least once, or when its count satisfies the condition (so `0=0`
    /// is true when subsignature 0 did not match).
    Subsignature {
        /// The subsignature index.
        index: usize,
        /// The count condition, if any.
        condition: Option<CountCondition>,
    },
    /// `&`: true when every operand is; with a condition, the group's count must satisfy it too.
    All {
        /// Two or more operands.
        operands: Vec<Expression>,
        /// The group's count condition, if any.
        condition: Option<CountCondition>,
    },
    /// `|`: true when any operand is; with a condition, the group's count must satisfy it too.
    Any {
        /// Two or more operands.
        operands: Vec<Expression>,
        /// The group's count condition, if any.
        condition: Option<CountCondition>,
    },
}

/// What evaluating a sub-expression gives its parent: whether it holds, the count it contributes and the
/// subsignatures it contributes (for `,Y`).
struct Outcome {
    holds: bool,
    count: u64,
    identities: u64,
}

const FALSE: Outcome = Outcome { holds: false, count: 0, identities: 0 };

impl Expression {
    /// Bytes of heap the expression's operands hold (not counting the expression itself).
    pub fn heap_bytes(&self) -> usize {
        match self {
            Expression::Subsignature { .. } => 0,
            Expression::All { operands, .. } | Expression::Any { operands, .. } => {
                operands.capacity() * size_of::<Expression>()
                    + operands.iter().map(Expression::heap_bytes).sum::<usize>()
            }
        }
    }

    /// Whether the expression holds, given how many times each subsignature matched in the part (`counts[i]`
    /// for subsignature `i`; indexes beyond `counts` count as 0). ClamAV counts a subsignature once per distinct
    /// start offset, in increasing order.
    pub fn evaluate(&self, counts: &[u32]) -> bool {
        self.outcome(counts).holds
    }

    fn outcome(&self, counts: &[u32]) -> Outcome {
        match self {
            Expression::Subsignature { index, condition } => {
                let value = u64::from(counts.get(*index).copied().unwrap_or(0));
                let holds = match condition {
                    None => value > 0,
                    Some(condition) => condition.compare(value),
                };
                let identity = u32::try_from(*index).ok().and_then(|shift| 1u64.checked_shl(shift)).unwrap_or(0);
                if holds { Outcome { holds, count: value, identities: identity } } else { FALSE }
            }
            Expression::All { operands, condition } | Expression::Any { operands, condition } => {
                let all = matches!(self, Expression::All { .. });
                let mut holds = all;
                let mut count = 0u64;
                let mut identities = 0u64;
                for operand in operands {
                    let outcome = operand.outcome(counts);
                    if all {
                        holds &= outcome.holds;
                    } else {
                        holds |= outcome.holds;
                    }
                    if outcome.holds {
                        count = count.saturating_add(outcome.count);
                        identities |= outcome.identities;
                    }
                }
                match condition {
                    None if holds => Outcome { holds, count, identities },
                    None => FALSE,
                    Some(condition) => {
                        let (count, identities) = if holds { (count, identities) } else { (0, 0) };
                        if !condition.compare(count) || identities.count_ones() < condition.distinct {
                            return FALSE;
                        }
                        // ClamAV does not pass the identities of a conditioned group up.
                        Outcome { holds: true, count, identities: 0 }
                    }
                }
            }
        }
    }

    /// The subsignature indexes the expression mentions, sorted, without repeats.
    pub fn referenced(&self) -> Vec<usize> {
        let mut indexes = Vec::new();
        self.collect(&mut indexes);
        indexes.sort_unstable();
        indexes.dedup();
        indexes
    }

    fn collect(&self, indexes: &mut Vec<usize>) {
        match self {
            Expression::Subsignature { index, .. } => indexes.push(*index),
            Expression::All { operands, .. } | Expression::Any { operands, .. } => {
                for operand in operands {
                    operand.collect(indexes);
                }
            }
        }
    }

    /// Parses a logical expression (or a regular-expression trigger) the way ClamAV does.
    pub fn parse(text: &[u8]) -> Result<Expression, SyntaxError> {
        parse_expression(text, 0).map(|(expression, _)| expression)
    }
}

/// The operator characters.
const AND: u8 = b'&';
const OR: u8 = b'|';

/// What one left-to-right scan of an expression finds (ClamAV's loop in `cli_ac_chklsig`).
struct Scan {
    /// The first operator outside parentheses.
    top: Option<(u8, usize)>,
    /// The last operator inside the outermost parentheses.
    inner: Option<(u8, usize)>,
    /// Where the outermost group ends, and its count condition, when the group (and its condition) end the text.
    block: Option<(usize, Option<CountCondition>)>,
}

fn scan(expression: &[u8]) -> Result<Scan, SyntaxError> {
    let mut depth = 0usize;
    let mut top = None;
    let mut inner = None;
    let mut block = None;
    let mut index = 0;
    while let Some(&byte) = expression.get(index) {
        match byte {
            b'(' => depth = depth.saturating_add(1),
            b')' => {
                depth = depth.checked_sub(1).ok_or_else(|| SyntaxError::new("`)` without `(` in the expression"))?;
            }
            AND | OR if depth == 0 => top = Some((byte, index)),
            AND | OR if depth == 1 => inner = Some((byte, index)),
            _ => {}
        }
        if top.is_some() {
            break;
        }
        if inner.is_some() && depth == 0 {
            let close = index;
            let mut condition = None;
            if let Some(&comparison @ (b'=' | b'<' | b'>')) = expression.get(index.saturating_add(1)) {
                let numbers = expression.get(index.saturating_add(2)..).unwrap_or_default();
                condition = Some(count_condition(comparison, numbers, true)?.0);
                index = index.saturating_add(2);
                while expression.get(index.saturating_add(1)).is_some_and(|next| next.is_ascii_digit() || *next == b',')
                {
                    index = index.saturating_add(1);
                }
            }
            if index.saturating_add(1) >= expression.len() {
                block = Some((close, condition));
                break;
            }
            // A group followed by something else: keep scanning (ClamAV resets the block here).
            block = Some((close, None));
        }
        index = index.saturating_add(1);
    }
    if depth != 0 {
        return refuse("`(` without `)` in the expression");
    }
    Ok(Scan { top, inner, block })
}

/// `X` or `X,Y` after a comparison sign, as `sscanf("%u,%u")` reads it. Returns the condition and the rest.
fn count_condition(sign: u8, text: &[u8], with_distinct: bool) -> Result<(CountCondition, &[u8]), SyntaxError> {
    let comparison = match sign {
        b'=' => Comparison::Equal,
        b'<' => Comparison::Less,
        _ => Comparison::Greater,
    };
    let (count, mut rest) = scan_unsigned(text)
        .ok_or_else(|| SyntaxError::new(format!("missing number after `{}`", char::from(sign))))??;
    let mut distinct = 0;
    if let Some(after_comma) = rest.strip_prefix(b",") {
        rest = after_comma;
        if let Some(result) = scan_unsigned(after_comma) {
            let (value, after) = result?;
            if with_distinct {
                distinct = value;
            }
            rest = after;
        }
    }
    Ok((CountCondition { comparison, count, distinct }, rest))
}

/// Parses `expression`; returns it with its depth.
fn parse_expression(expression: &[u8], depth: usize) -> Result<(Expression, usize), SyntaxError> {
    if depth > MAX_EXPRESSION_DEPTH {
        return refuse(format!("the logical expression nests deeper than {MAX_EXPRESSION_DEPTH}"));
    }
    // Split at the first top-level operator, again and again: a0 op0 a1 op1 a2 ... groups to the right.
    let mut operands: Vec<(Expression, usize)> = Vec::new();
    let mut operators: Vec<u8> = Vec::new();
    let mut rest = expression;
    loop {
        let found = scan(rest)?;
        match found.top {
            Some((operator, position)) => {
                if position == 0 {
                    return refuse("an operator is missing its left operand");
                }
                if position.saturating_add(1) >= rest.len() {
                    return refuse("an operator is missing its right operand");
                }
                operands.push(parse_expression(rest.get(..position).unwrap_or_default(), depth.saturating_add(1))?);
                operators.push(operator);
                rest = rest.get(position.saturating_add(1)..).unwrap_or_default();
            }
            None => {
                operands.push(parse_operand(rest, &found, depth)?);
                break;
            }
        }
    }
    let mut result = operands.pop().ok_or_else(|| SyntaxError::new("empty expression"))?;
    while let (Some(operator), Some(left)) = (operators.pop(), operands.pop()) {
        result = combine(operator, left, result, None)?;
    }
    Ok(result)
}

/// An expression without a top-level operator: a parenthesised group or a subsignature.
fn parse_operand(expression: &[u8], found: &Scan, depth: usize) -> Result<(Expression, usize), SyntaxError> {
    let Some((operator, position)) = found.inner else {
        if expression.first() == Some(&b'(') {
            // ClamAV drops the first and the last character: `(0)` is `0`, `(0)=1` is garbage.
            let inner = expression.get(1..expression.len().saturating_sub(1)).unwrap_or_default();
            return parse_expression(inner, depth.saturating_add(1));
        }
        return parse_subsignature(expression);
    };
    let Some((end, condition)) = found.block else {
        return refuse("malformed group in the expression");
    };
    if position.saturating_add(1) >= end {
        return refuse("an operator is missing its right operand");
    }
    let left = expression.get(1..position).unwrap_or_default();
    let right = expression.get(position.saturating_add(1)..end).unwrap_or_default();
    if left.is_empty() {
        return refuse("an operator is missing its left operand");
    }
    let left = parse_expression(left, depth.saturating_add(1))?;
    let right = parse_expression(right, depth.saturating_add(1))?;
    combine(operator, left, right, condition)
}

/// `left operator right`, merging operands of the same unconditioned operator into one node.
fn combine(
    operator: u8,
    left: (Expression, usize),
    right: (Expression, usize),
    condition: Option<CountCondition>,
) -> Result<(Expression, usize), SyntaxError> {
    let all = operator == AND;
    let mut operands = Vec::new();
    let mut depth = 0usize;
    for (operand, operand_depth) in [left, right] {
        match operand {
            Expression::All { operands: inner, condition: None } if all => {
                operands.extend(inner);
                depth = depth.max(operand_depth);
            }
            Expression::Any { operands: inner, condition: None } if !all => {
                operands.extend(inner);
                depth = depth.max(operand_depth);
            }
            other => {
                operands.push(other);
                depth = depth.max(operand_depth.saturating_add(1));
            }
        }
    }
    let depth = depth.max(1);
    if depth > MAX_EXPRESSION_DEPTH {
        return refuse(format!("the logical expression nests deeper than {MAX_EXPRESSION_DEPTH}"));
    }
    operands.shrink_to_fit();
    let expression =
        if all { Expression::All { operands, condition } } else { Expression::Any { operands, condition } };
    Ok((expression, depth))
}

/// `N`, `N=X`, `N>X`, `N<X` (a `,Y` is read and ignored, as ClamAV does); white space around numbers allowed.
fn parse_subsignature(text: &[u8]) -> Result<(Expression, usize), SyntaxError> {
    let invalid = || SyntaxError::new(format!("cannot read {:?} as a subsignature index", show(text)));
    let (index, rest) = scan_unsigned(text).ok_or_else(invalid)??;
    let rest = trim_start(rest);
    let condition = match rest.first() {
        None => None,
        Some(&sign @ (b'=' | b'<' | b'>')) => {
            let (condition, after) = count_condition(sign, rest.get(1..).unwrap_or_default(), false)?;
            if !trim_start(after).is_empty() {
                return Err(invalid());
            }
            Some(condition)
        }
        Some(_) => return Err(invalid()),
    };
    let index = usize::try_from(index).map_err(|_| invalid())?;
    Ok((Expression::Subsignature { index, condition }, 0))
}

fn trim_start(text: &[u8]) -> &[u8] {
    let start = text.iter().position(|byte| !byte.is_ascii_whitespace()).unwrap_or(text.len());
    text.get(start..).unwrap_or_default()
}

/// Splits like ClamAV's `cli_ldbtokenize`: at most `limit` fields; from field `skip` on, a `/` not preceded by
/// `\` opens or closes a regular expression, inside which the delimiter does not split.
fn split_logical(text: &[u8], delimiter: u8, limit: usize, skip: usize) -> Vec<&[u8]> {
    let mut fields = Vec::new();
    let mut start = 0;
    let mut inside_regex = false;
    let mut index = 0;
    while fields.len() < limit {
        let current_field = fields.len();
        loop {
            match text.get(index) {
                None => {
                    fields.push(text.get(start..).unwrap_or_default());
                    return fields;
                }
                Some(&byte) if byte == delimiter && !inside_regex => break,
                Some(b'/')
                    if current_field >= skip && index > 0 && text.get(index.saturating_sub(1)) != Some(&b'\\') =>
                {
                    inside_regex = !inside_regex;
                }
                Some(_) => {}
            }
            index = index.saturating_add(1);
        }
        fields.push(text.get(start..index).unwrap_or_default());
        index = index.saturating_add(1);
        start = index;
    }
    fields
}

pub(crate) fn parse_logical_line(raw: &[u8]) -> Result<Line<LogicalSignature>, SyntaxError> {
    if is_comment(raw) {
        return Ok(Line::Comment);
    }
    let line = chomp(raw);
    let fields = split_logical(line, b';', LOGICAL_FIELDS, 2);
    if fields.len() < 4 {
        return refuse(format!(
            "logical line has {} field(s); it needs Name;TargetDescription;Expression;Subsig0[;Subsig1...]",
            fields.len()
        ));
    }
    let field = |index: usize| fields.get(index).copied().unwrap_or_default();
    let name_field = field(0);
    let expression = Expression::parse(field(2))?;
    let referenced = expression.referenced();
    let highest = referenced.last().copied().unwrap_or(0);
    let given = fields.len().saturating_sub(3);
    if highest.saturating_add(1) != given {
        return refuse(format!(
            "the expression's highest subsignature index is {highest}, so it needs {} subsignatures; {given} given",
            highest.saturating_add(1)
        ));
    }
    if given > MAX_SUBSIGNATURES {
        return refuse(format!("more than {MAX_SUBSIGNATURES} subsignatures"));
    }
    let target_description = match parse_target_description(field(1))? {
        Ok(description) => description,
        Err(reason) => return Ok(Line::Skipped { name: show(name_field), reason }),
    };
    let name = super::signature_name(name_field)?.into_owned();
    let mut subsignatures = Vec::with_capacity(given);
    for index in 0..given {
        let text = field(index.saturating_add(3));
        let subsignature = parse_subsignature_text(text, index, target_description.target)
            .map_err(|error| SyntaxError::new(format!("subsignature {index}: {}", error.reason)))?;
        subsignatures.push(subsignature);
    }
    Ok(Line::Signature(LogicalSignature { name, target_description, expression, subsignatures }))
}

/// The attributes ClamAV knows.
const ATTRIBUTES: [&str; 10] = [
    "Target",
    "Engine",
    "FileSize",
    "EntryPoint",
    "NumberOfSections",
    "IconGroup1",
    "IconGroup2",
    "Container",
    "HandlerType",
    "Intermediates",
];

/// Parses the target description block. `Ok(Err(reason))` is a block ClamAV skips silently.
fn parse_target_description(text: &[u8]) -> Result<Result<TargetDescription, SkipReason>, SyntaxError> {
    let (attributes, _) = split_fields::<ATTRIBUTE_FIELDS>(text, b',');
    let mut engine: Option<(u32, u32)> = None;
    let mut target: Option<u64> = None;
    let mut file_size = None;
    let mut container = None;
    let mut unsupported = Vec::new();
    let mut new_attributes = false;
    let mut icon_group = false;
    let mut executable_only = false;
    for (position, attribute) in attributes.iter().enumerate() {
        let Some(colon) = memchr::memchr(b':', attribute) else {
            return refuse(format!("attribute {:?} is not Key:Value", show(attribute)));
        };
        let key = attribute.get(..colon).unwrap_or_default();
        let value = attribute.get(colon.saturating_add(1)..).unwrap_or_default();
        let Some(known) = ATTRIBUTES.iter().find(|name| name.as_bytes() == key) else {
            return Ok(Err(SkipReason::UnknownAttribute(show(key))));
        };
        match *known {
            "Engine" if position != 0 => return refuse("the Engine attribute must come first"),
            "Engine" | "Target" => {}
            _ => new_attributes = true,
        }
        match *known {
            "Target" => {
                if !is_number(value) {
                    return refuse(format!("Target {:?} is not a number", show(value)));
                }
                target = Some(value.iter().fold(0u64, |number, digit| {
                    number.saturating_mul(10).saturating_add(u64::from(digit.wrapping_sub(b'0')))
                }));
            }
            "Engine" | "FileSize" | "EntryPoint" | "NumberOfSections" => {
                let Some(dash) = memchr::memchr(b'-', value) else {
                    return refuse(format!("{} {:?} is not a range a-b", show(key), show(value)));
                };
                let low = decimal_field(value.get(..dash).unwrap_or_default(), known)?;
                let high = decimal_field(value.get(dash.saturating_add(1)..).unwrap_or_default(), known)?;
                match *known {
                    "Engine" => engine = Some((low, high)),
                    "FileSize" => file_size = Some(low..=high),
                    _ => {
                        executable_only = true;
                        unsupported.push(Attribute { key: show(key), value: show(value) });
                    }
                }
            }
            "IconGroup1" | "IconGroup2" => {
                icon_group = true;
                unsupported.push(Attribute { key: show(key), value: show(value) });
            }
            "Container" | "HandlerType" => {
                if !is_file_type(value) {
                    return Ok(Err(SkipReason::UnknownFileType(show(value))));
                }
                if *known == "Container" {
                    container = Some(show(value));
                } else {
                    unsupported.push(Attribute { key: show(key), value: show(value) });
                }
            }
            _ => {
                // Intermediates: up to 16 types separated by `>`.
                let (types, _) = split_fields::<16>(value, b'>');
                if let Some(unknown) = types.iter().find(|name| !is_file_type(name)) {
                    return Ok(Err(SkipReason::UnknownFileType(show(unknown))));
                }
                unsupported.push(Attribute { key: show(key), value: show(value) });
            }
        }
    }
    if new_attributes && engine.is_none_or(|(low, _)| low < NEW_ATTRIBUTES_FLEVEL) {
        return refuse(format!(
            "attributes other than Target and Engine need Engine with a minimum of at least {NEW_ATTRIBUTES_FLEVEL}"
        ));
    }
    let engine = engine.map_or(Flevel::default(), |(low, high)| Flevel { min: Some(low), max: Some(high) });
    if !engine.applies() {
        return Ok(Err(SkipReason::FunctionalityLevel(engine)));
    }
    let Some(target_number) = target else {
        return refuse("the target description block has no Target");
    };
    let Some(target) = Target::from_number(target_number) else {
        return Ok(Err(SkipReason::UnknownTarget(target_number)));
    };
    if icon_group && target != Target::PortableExecutable {
        return refuse("IconGroup1/IconGroup2 are only allowed with Target:1");
    }
    if executable_only && !target.is_executable() {
        return refuse("EntryPoint and NumberOfSections are only allowed for PE, ELF and Mach-O targets");
    }
    Ok(Ok(TargetDescription { engine, target, file_size, container, unsupported }))
}

fn parse_subsignature_text(text: &[u8], index: usize, target: Target) -> Result<SubSignature, SyntaxError> {
    let unsupported = |kind| SubSignature::Unsupported { kind, text: show(text) };
    if text.first() == Some(&b'$') {
        return parse_macro(text).map(|()| unsupported(SubSignatureKind::Macro));
    }
    if memchr::memchr(b'/', text).is_some() {
        return parse_regular_expression(text, index, target)
            .map(|()| unsupported(SubSignatureKind::RegularExpression));
    }
    let hashes = memchr::memchr_iter(b'#', text).count();
    if memchr::memchr(b'(', text).is_some() && hashes >= 2 {
        return Ok(unsupported(SubSignatureKind::ByteCompare));
    }
    if let Some(rest) = text.strip_prefix(b"fuzzy_img#") {
        return parse_fuzzy_image(rest).map(|()| unsupported(SubSignatureKind::ImageFuzzyHash));
    }
    let tokens = split_logical(text, b':', 5, 0);
    let (offset_text, hex, modifier_text): (&[u8], &[u8], &[u8]) = match tokens.as_slice() {
        [hex] => (b"*", hex, b""),
        [offset, hex] => (offset, hex, b""),
        // ClamAV ignores the field between the pattern and the modifiers (normally empty: `hex::i`).
        [hex, _, modifiers] => (b"*", hex, modifiers),
        [offset, hex, _, modifiers] => (offset, hex, modifiers),
        _ => return refuse("too many `:` in the subsignature"),
    };
    let mut modifiers = Modifiers::default();
    for letter in modifier_text {
        match letter {
            b'i' => modifiers.nocase = true,
            b'w' => modifiers.wide = true,
            b'f' => modifiers.fullword = true,
            b'a' => modifiers.ascii = true,
            other => return refuse(format!("unknown subsignature modifier {:?}", char::from(*other))),
        }
    }
    let context = Context { target, offset: offset_text, logical: true };
    let patterns = body::compile_in(hex, modifiers, &context)?;
    let offset = parse_offset(offset_text, target)?;
    Ok(SubSignature::Content { offset, modifiers, patterns })
}

/// `${min-max}group$` (ClamAV's `sscanf("${%u-%u}%u$")`, ending in `$`, group below 32).
fn parse_macro(text: &[u8]) -> Result<(), SyntaxError> {
    let invalid = || SyntaxError::new(format!("invalid macro subsignature {:?}", show(text)));
    if text.last() != Some(&b'$') || text.len() < 2 {
        return refuse("a macro subsignature must end with `$`");
    }
    let rest = text.strip_prefix(b"${").ok_or_else(invalid)?;
    let (_, rest) = scan_unsigned(rest).ok_or_else(invalid)??;
    let rest = rest.strip_prefix(b"-").ok_or_else(invalid)?;
    let (_, rest) = scan_unsigned(rest).ok_or_else(invalid)??;
    let rest = rest.strip_prefix(b"}").ok_or_else(invalid)?;
    let (group, _) = scan_unsigned(rest).ok_or_else(invalid)??;
    if group >= 32 {
        return refuse(format!("macro group {group} is out of range (ClamAV supports 32 groups)"));
    }
    Ok(())
}

/// `[offset:]Trigger/regex/[flags]`: ClamAV checks the trigger (a valid expression over earlier subsignatures),
/// that the regular expression is not empty, the offset and the flags. The regular expression itself is only
/// compiled later by ClamAV and is not checked here.
fn parse_regular_expression(text: &[u8], index: usize, target: Target) -> Result<(), SyntaxError> {
    let tokens = split_logical(text, b':', 5, 0);
    let (offset, expression) = match tokens.as_slice() {
        [offset, expression] => (*offset, *expression),
        [expression, ..] => (&b"*"[..], *expression),
        [] => return refuse("empty regular-expression subsignature"),
    };
    let first = memchr::memchr(b'/', expression);
    let last = memchr::memrchr(b'/', expression);
    let (Some(first), Some(last)) = (first, last) else {
        return refuse("regular-expression subsignature without `/`");
    };
    if first == last {
        return refuse("regular-expression subsignature has an unmatched `/`");
    }
    if text.first() == Some(&b'/') {
        return refuse("regular-expression subsignature needs a trigger before `/`");
    }
    let trigger = expression.get(..first).unwrap_or_default();
    let pattern = expression.get(first.saturating_add(1)..last).unwrap_or_default();
    let flags = expression.get(last.saturating_add(1)..).unwrap_or_default();
    if trigger.is_empty() || pattern.is_empty() {
        return refuse("regular-expression subsignature has an empty trigger or pattern");
    }
    if trigger != TRIGGER_BYPASS {
        let highest = Expression::parse(trigger)?.referenced().last().copied().unwrap_or(0);
        if highest >= index {
            return refuse(format!(
                "regular-expression trigger refers to subsignature {highest}, not one before this one ({index})"
            ));
        }
    }
    parse_offset(offset, target)?;
    if let Some(flag) = flags.iter().find(|flag| !b"greismxAEU".contains(flag)) {
        return refuse(format!("unknown regular-expression flag {:?}", char::from(*flag)));
    }
    Ok(())
}

/// `fuzzy_img#` is followed by 16 hex digits and optionally `#distance`.
fn parse_fuzzy_image(rest: &[u8]) -> Result<(), SyntaxError> {
    let (hash, distance) = match memchr::memchr(b'#', rest) {
        Some(position) => {
            (rest.get(..position).unwrap_or_default(), Some(rest.get(position.saturating_add(1)..).unwrap_or_default()))
        }
        None => (rest, None),
    };
    if hash.len() != 16 || !hash.iter().all(u8::is_ascii_hexdigit) {
        return refuse("an image fuzzy hash is 16 hex digits");
    }
    if let Some(distance) = distance
        && (distance.is_empty() || !is_number(distance))
    {
        return refuse("an image fuzzy hash distance is a decimal number");
    }
    Ok(())
}

/// The `CL_TYPE_*` names ClamAV 1.4 knows (`ftmap` in `filetypes.c`).
fn is_file_type(name: &[u8]) -> bool {
    FILE_TYPES.iter().any(|known| known.as_bytes() == name)
}

const FILE_TYPES: [&str; 86] = [
    "CL_TYPE_TEXT_ASCII",
    "CL_TYPE_TEXT_UTF8",
    "CL_TYPE_TEXT_UTF16LE",
    "CL_TYPE_TEXT_UTF16BE",
    "CL_TYPE_BINARY_DATA",
    "CL_TYPE_IGNORED",
    "CL_TYPE_ANY",
    "CL_TYPE_MSEXE",
    "CL_TYPE_ELF",
    "CL_TYPE_MACHO",
    "CL_TYPE_MACHO_UNIBIN",
    "CL_TYPE_POSIX_TAR",
    "CL_TYPE_OLD_TAR",
    "CL_TYPE_CPIO_OLD",
    "CL_TYPE_CPIO_ODC",
    "CL_TYPE_CPIO_NEWC",
    "CL_TYPE_CPIO_CRC",
    "CL_TYPE_GZ",
    "CL_TYPE_ZIP",
    "CL_TYPE_BZ",
    "CL_TYPE_RAR",
    "CL_TYPE_ARJ",
    "CL_TYPE_MSSZDD",
    "CL_TYPE_MSOLE2",
    "CL_TYPE_MSCAB",
    "CL_TYPE_MSCHM",
    "CL_TYPE_SIS",
    "CL_TYPE_SCRENC",
    "CL_TYPE_GRAPHICS",
    "CL_TYPE_GIF",
    "CL_TYPE_PNG",
    "CL_TYPE_JPEG",
    "CL_TYPE_TIFF",
    "CL_TYPE_RIFF",
    "CL_TYPE_BINHEX",
    "CL_TYPE_TNEF",
    "CL_TYPE_CRYPTFF",
    "CL_TYPE_PDF",
    "CL_TYPE_UUENCODED",
    "CL_TYPE_HTML_UTF16",
    "CL_TYPE_SCRIPT",
    "CL_TYPE_RTF",
    "CL_TYPE_HTML",
    "CL_TYPE_MAIL",
    "CL_TYPE_SFX",
    "CL_TYPE_ZIPSFX",
    "CL_TYPE_RARSFX",
    "CL_TYPE_CABSFX",
    "CL_TYPE_ARJSFX",
    "CL_TYPE_NULSFT",
    "CL_TYPE_AUTOIT",
    "CL_TYPE_ISHIELD_MSI",
    "CL_TYPE_7Z",
    "CL_TYPE_7ZSFX",
    "CL_TYPE_SWF",
    "CL_TYPE_ISO9660",
    "CL_TYPE_JAVA",
    "CL_TYPE_DMG",
    "CL_TYPE_MBR",
    "CL_TYPE_GPT",
    "CL_TYPE_APM",
    "CL_TYPE_XAR",
    "CL_TYPE_PART_ANY",
    "CL_TYPE_PART_HFSPLUS",
    "CL_TYPE_XZ",
    "CL_TYPE_OOXML_WORD",
    "CL_TYPE_OOXML_PPT",
    "CL_TYPE_OOXML_XL",
    "CL_TYPE_INTERNAL",
    "CL_TYPE_XDP",
    "CL_TYPE_XML_WORD",
    "CL_TYPE_XML_XL",
    "CL_TYPE_HWP3",
    "CL_TYPE_XML_HWP",
    "CL_TYPE_HWPOLE2",
    "CL_TYPE_OOXML_HWP",
    "CL_TYPE_PS",
    "CL_TYPE_MHTML",
    "CL_TYPE_LNK",
    "CL_TYPE_EGG",
    "CL_TYPE_EGGSFX",
    "CL_TYPE_UDF",
    "CL_TYPE_ALZ",
    "CL_TYPE_ONENOTE",
    "CL_TYPE_PYTHON_COMPILED",
    "CL_TYPE_LHA_LZH",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::parse_logical_line;

    fn leaf(index: usize) -> Expression {
        Expression::Subsignature { index, condition: None }
    }

    fn parse(text: &str) -> Expression {
        Expression::parse(text.as_bytes()).expect(text)
    }

    #[test]
    fn operators_group_like_clamav() {
        // The first top-level operator splits: right-grouping.
        assert_eq!(
            parse("0&1|2"),
            Expression::All {
                operands: vec![leaf(0), Expression::Any { operands: vec![leaf(1), leaf(2)], condition: None }],
                condition: None
            }
        );
        // Inside parentheses the last operator of that level splits: left-grouping.
        assert_eq!(
            parse("(0&1|2)"),
            Expression::Any {
                operands: vec![Expression::All { operands: vec![leaf(0), leaf(1)], condition: None }, leaf(2)],
                condition: None
            }
        );
        // Chains of one operator are one node.
        assert_eq!(
            parse("0&1&2&3"),
            Expression::All { operands: vec![leaf(0), leaf(1), leaf(2), leaf(3)], condition: None }
        );
        assert_eq!(parse("(0|1|2)"), Expression::Any { operands: vec![leaf(0), leaf(1), leaf(2)], condition: None });
        assert_eq!(parse("(0)"), leaf(0));
        assert_eq!(parse(" 3 "), leaf(3));
    }

    #[test]
    fn count_conditions() {
        let greater = |count, distinct| Some(CountCondition { comparison: Comparison::Greater, count, distinct });
        assert_eq!(parse("0>2,1"), Expression::Subsignature { index: 0, condition: greater(2, 0) });
        assert_eq!(parse("(0|1)>2,1"), Expression::Any { operands: vec![leaf(0), leaf(1)], condition: greater(2, 1) });
        assert_eq!(
            parse("(0|1)= 2"),
            Expression::Any {
                operands: vec![leaf(0), leaf(1)],
                condition: Some(CountCondition { comparison: Comparison::Equal, count: 2, distinct: 0 })
            }
        );
        assert_eq!(
            parse("0<1"),
            Expression::Subsignature {
                index: 0,
                condition: Some(CountCondition { comparison: Comparison::Less, count: 1, distinct: 0 })
            }
        );
        // `0>2,1` style: more than 2 matches in the group, from at least 1 subsignature.
        let expression = parse("(0|1)>2,2");
        assert!(!expression.evaluate(&[3, 0]));
        assert!(expression.evaluate(&[2, 1]));
        assert!(!expression.evaluate(&[1, 1]));
        // Indexes beyond the counts count as 0.
        assert!(parse("5=0").evaluate(&[]));
        assert!(!parse("5").evaluate(&[1, 1]));
        assert!(parse("(0&1)=0").evaluate(&[1]));
        assert!(parse("(0&1)<1").evaluate(&[9]));
    }

    #[test]
    fn referenced_indexes() {
        assert_eq!(parse("(3|1)>2,1&1&0=0").referenced(), vec![0, 1, 3]);
    }

    #[test]
    fn malformed_expressions() {
        for text in [
            "",
            "&",
            "0&",
            "&0",
            "(0",
            "0)",
            "()",
            "(0|)",
            "(|0)",
            "0x",
            "x",
            "0=",
            "0=x",
            "(0|1)>",
            "(0|1)>x",
            "(0|1)>3 ",
            "(0|1) >3",
            "(0)>1",
            "((0|1))>3",
            "0=1=2",
            "-1",
            "99999999999",
            "0>,",
        ] {
            assert!(Expression::parse(text.as_bytes()).is_err(), "{text:?}");
        }
        // Accepted like clamscan does: white space before numbers, `+`, a trailing comma.
        for text in ["0 & 1", "(0|1)> 3", "0=+0", "0=0,", "(0|1)=4,"] {
            assert!(Expression::parse(text.as_bytes()).is_ok(), "{text:?}");
        }
    }

    #[test]
    fn subsignature_kinds() {
        // clamscan loads this line.
        let line = "Sig;Engine:81-255,Target:0;0&1&2&3&4&5;4142434445;0/abc\\/;d/i;0(>>4#hb2#=0);${1-2}3$;fuzzy_img#af2ad01ed42993c7#0;10,5:4647::wi";
        let parsed = parse_logical_line(line.as_bytes());
        let Ok(Line::Signature(signature)) = parsed else { panic!("{parsed:?}") };
        let kinds: Vec<Option<SubSignatureKind>> = signature
            .subsignatures
            .iter()
            .map(|subsignature| match subsignature {
                SubSignature::Content { .. } => None,
                SubSignature::Unsupported { kind, .. } => Some(*kind),
            })
            .collect();
        assert_eq!(
            kinds,
            vec![
                None,
                Some(SubSignatureKind::RegularExpression),
                Some(SubSignatureKind::ByteCompare),
                Some(SubSignatureKind::Macro),
                Some(SubSignatureKind::ImageFuzzyHash),
                None
            ]
        );
        let Some(SubSignature::Content { offset, modifiers, patterns }) = signature.subsignatures.last() else {
            panic!("content")
        };
        assert_eq!(*offset, Offset::Absolute { start: 10, shift: 5 });
        assert!(modifiers.wide && modifiers.nocase);
        assert_eq!(patterns[0].segments[0].anchor(), b"f\0g\0");
        // The `;` inside a regular expression does not split the line.
        assert_eq!(signature.subsignatures.len(), 6);
    }

    #[test]
    fn regular_expression_checks() {
        // clamscan agrees on each: it loads the first three lines and refuses the others (self-referential or
        // later trigger, no trigger, unmatched `/`, empty pattern, unknown flag, invalid trigger, EP offset for
        // target 0).
        let line = |subsignature: &str| format!("Sig;Engine:81-255,Target:0;0&1;41424344;{subsignature}");
        assert!(matches!(parse_logical_line(line("0/abc/")), Ok(Line::Signature(_))));
        assert!(matches!(parse_logical_line(line("200,300:0/abc/ge")), Ok(Line::Signature(_))));
        assert!(matches!(parse_logical_line(line("7374756c747a676574737265676578/abc/")), Ok(Line::Signature(_))));
        for bad in ["1/abc/", "2/abc/", "/abc/", "0/abc", "0//", "0/abc/q", "x/abc/", "EP+0:0/abc/"] {
            assert!(parse_logical_line(line(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn other_subsignature_checks() {
        // clamscan refuses each of these (macro group 32, short fuzzy hash, five `:` fields) and loads the last.
        let line = |subsignature: &str| format!("Sig;Engine:81-255,Target:0;0&1;41424344;{subsignature}");
        for bad in ["${1-2}32$", "${1-2}3", "$1-2}3$", "fuzzy_img#af2a", "fuzzy_img#af2ad01ed42993c7#x", "1:2:3:4:5"] {
            assert!(parse_logical_line(line(bad)).is_err(), "{bad}");
        }
        assert!(matches!(parse_logical_line(line("fuzzy_img#af2ad01ed42993c7")), Ok(Line::Signature(_))));
    }

    #[test]
    fn target_description_fields() {
        let parsed = parse_logical_line(
            b"Sig;Engine:51-255,Target:1,FileSize:10-20,Container:CL_TYPE_ZIP,EntryPoint:0-9,NumberOfSections:1-3,IconGroup1:a,HandlerType:CL_TYPE_PDF,Intermediates:CL_TYPE_ZIP>CL_TYPE_ANY;0;414243",
        );
        let Ok(Line::Signature(signature)) = parsed else { panic!("{parsed:?}") };
        let description = signature.target_description;
        assert_eq!(description.engine, Flevel { min: Some(51), max: Some(255) });
        assert_eq!(description.target, Target::PortableExecutable);
        assert_eq!(description.file_size, Some(10..=20));
        assert_eq!(description.container.as_deref(), Some("CL_TYPE_ZIP"));
        let keys: Vec<&str> = description.unsupported.iter().map(|attribute| attribute.key.as_str()).collect();
        assert_eq!(keys, vec!["EntryPoint", "NumberOfSections", "IconGroup1", "HandlerType", "Intermediates"]);
        assert!(matches!(
            parse_logical_line(b"Sig;Engine:51-255,Target:0,Intermediates:CL_TYPE_ZIP>CL_TYPE_NOPE;0;414243"),
            Ok(Line::Skipped { reason: SkipReason::UnknownFileType(_), .. })
        ));
        assert!(matches!(
            parse_logical_line(b"Sig;Engine:300-400,Target:0;0;414243"),
            Ok(Line::Skipped { reason: SkipReason::FunctionalityLevel(_), .. })
        ));
        assert_eq!(parse_logical_line(b"#Sig;Target:0;0;414243"), Ok(Line::Comment));
    }

    #[test]
    fn subsignature_count_rules() {
        // The highest index must be the last subsignature; lower ones may go unreferenced.
        assert!(matches!(parse_logical_line(b"Sig;Target:0;2;414243;444546;474849"), Ok(Line::Signature(_))));
        assert!(parse_logical_line(b"Sig;Target:0;1;414243;444546;474849").is_err());
        assert!(parse_logical_line(b"Sig;Target:0;3;414243;444546;474849").is_err());
        let many: String = (0..65).map(|_| ";414243").collect();
        assert!(parse_logical_line(format!("Sig;Target:0;64{many}").as_bytes()).is_err());
        let enough: String = (0..64).map(|_| ";414243").collect();
        assert!(matches!(parse_logical_line(format!("Sig;Target:0;63{enough}").as_bytes()), Ok(Line::Signature(_))));
        assert!(parse_logical_line(b"Sig;Target:0").is_err());
    }
}
