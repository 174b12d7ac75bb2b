//! The parsed form of a filter expression: predicates joined by set operators, each predicate
//! remembering where it was written so that later checks can point at it.

use super::matcher::{DefaultMatcher, NameMatcher};

/// What a predicate looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Predicate {
    Test,
    Package,
    Binary,
    BinaryId,
    Kind,
    Group,
}

impl Predicate {
    /// Every predicate that takes a name, with its spelling.
    pub const NAMED: [(&'static str, Predicate); 6] = [
        ("test", Predicate::Test),
        ("package", Predicate::Package),
        ("binary", Predicate::Binary),
        ("binary_id", Predicate::BinaryId),
        ("kind", Predicate::Kind),
        ("group", Predicate::Group),
    ];

    pub fn name(self) -> &'static str {
        Self::NAMED
            .iter()
            .find(|(_, p)| *p == self)
            .map_or("", |(name, _)| name)
    }

    /// The matcher of an argument written without `=`, `~`, `#` or `/`: nextest's choice.
    pub fn default_matcher(self) -> DefaultMatcher {
        match self {
            Predicate::Test => DefaultMatcher::Contains,
            Predicate::Kind => DefaultMatcher::Equal,
            Predicate::Package | Predicate::Binary | Predicate::BinaryId | Predicate::Group => {
                DefaultMatcher::Glob
            }
        }
    }
}

/// One predicate with its argument, and the byte range of the argument in the text.
#[derive(Debug, Clone)]
pub struct Leaf {
    pub predicate: Predicate,
    pub matcher: NameMatcher,
    pub span: (usize, usize),
}

#[derive(Debug, Clone)]
pub enum Expr {
    All,
    None,
    Leaf(Leaf),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    /// `a - b`: in `a` and not in `b`.
    Difference(Box<Expr>, Box<Expr>),
}

impl Expr {
    /// Every predicate of the expression, left to right.
    pub fn leaves(&self) -> Vec<&Leaf> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect<'a>(&'a self, out: &mut Vec<&'a Leaf>) {
        match self {
            Expr::All | Expr::None => {}
            Expr::Leaf(leaf) => out.push(leaf),
            Expr::Not(inner) => inner.collect(out),
            Expr::And(a, b) | Expr::Or(a, b) | Expr::Difference(a, b) => {
                a.collect(out);
                b.collect(out);
            }
        }
    }
}
