//! The evaluated tree: what the checker makes of a syntax tree, and what the evaluator
//! walks. Its own module, below both, so that neither imports the other for it.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicU32, AtomicUsize};

use super::func::{Func, Kw};
use super::lex::Op;
use crate::model::Span;
use crate::value::Value;

/// A node of the evaluated tree.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Node {
    /// What it is.
    pub(crate) kind: Kind,
    /// Where it is in the text.
    pub(crate) span: Span,
}

/// The kinds of node.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Kind {
    /// A constant (a literal, or a constant sub-expression evaluated at compile time).
    Const(Value),
    /// An attribute reference.
    Attr(AttrRef),
    /// `NOW`.
    Now,
    /// `TODAY`.
    Today,
    /// `NEWGUID`.
    NewGuid,
    /// A keyword argument (only as a function argument).
    Keyword(Kw),
    /// A list of values (only as `CHANGEDFROM`/`CHANGEDTO`'s last argument).
    List(Box<[Node]>),
    /// `-x`.
    Neg(Box<Node>),
    /// Operators of one precedence level, applied left to right.
    Chain {
        /// The leftmost operand.
        first: Box<Node>,
        /// Each operator, where it is, and its right operand.
        rest: Box<[(Op, Span, Node)]>,
    },
    /// `a AND b AND ...`.
    And(Box<[Node]>),
    /// `a OR b OR ...`.
    Or(Box<[Node]>),
    /// `value [NOT] IN (items)`.
    In {
        /// The value looked for.
        value: Box<Node>,
        /// The items.
        items: Box<[Node]>,
        /// `NOT IN`.
        negated: bool,
    },
    /// A function call.
    Call {
        /// The function.
        func: Func,
        /// Its arguments.
        args: Box<[Node]>,
    },
}

impl Node {
    /// Call `f` on every attribute reference in the tree.
    pub(crate) fn visit_attrs(&self, f: &mut dyn FnMut(&AttrRef)) {
        match &self.kind {
            Kind::Attr(a) => f(a),
            Kind::Const(_) | Kind::Now | Kind::Today | Kind::NewGuid | Kind::Keyword(_) => {}
            Kind::List(items) | Kind::And(items) | Kind::Or(items) => {
                items.iter().for_each(|n| n.visit_attrs(f))
            }
            Kind::Neg(x) => x.visit_attrs(f),
            Kind::Chain { first, rest } => {
                first.visit_attrs(f);
                rest.iter().for_each(|(_, _, n)| n.visit_attrs(f));
            }
            Kind::In { value, items, .. } => {
                value.visit_attrs(f);
                items.iter().for_each(|n| n.visit_attrs(f));
            }
            Kind::Call { args, .. } => args.iter().for_each(|n| n.visit_attrs(f)),
        }
    }
}

/// An attribute reference: its path, and where it was last found.
#[derive(Debug)]
pub(crate) struct AttrRef {
    /// The names, outermost first.
    pub(crate) path: Box<[Box<str>]>,
    /// The position in the record where the path was last found. The members of one
    /// entity list their attributes in the same order, so trying this position first
    /// usually finds the attribute with one comparison instead of a scan (which, over
    /// records not in cache, is dominated by memory latency). Only a hint: a wrong or
    /// stale value costs one comparison, and any thread may update it.
    pub(crate) hint: AtomicUsize,
    /// The plan's slot for this path ([`crate::page::Bound`]), set once when the plan
    /// is built; [`UNBOUND`] until then.
    pub(crate) slot: AtomicU32,
}

/// The slot of a reference that no plan has bound.
pub(crate) const UNBOUND: u32 = u32::MAX;

impl Clone for AttrRef {
    fn clone(&self) -> Self {
        AttrRef {
            path: self.path.clone(),
            hint: AtomicUsize::new(self.hint.load(Relaxed)),
            slot: AtomicU32::new(self.slot.load(Relaxed)),
        }
    }
}

impl PartialEq for AttrRef {
    fn eq(&self, other: &Self) -> bool {
        self.path == other.path
    }
}
