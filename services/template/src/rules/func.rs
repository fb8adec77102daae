//! The functions expressions may call. All of them take and return numbers; each has a fixed
//! number of arguments, checked when the expression is parsed.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    Ceil,
    Floor,
    Round,
    Abs,
    Sqrt,
    Min,
    Max,
    Clamp,
}

pub(crate) const ALL: [Func; 8] = [
    Func::Ceil,
    Func::Floor,
    Func::Round,
    Func::Abs,
    Func::Sqrt,
    Func::Min,
    Func::Max,
    Func::Clamp,
];

impl Func {
    pub(crate) fn by_name(name: &str) -> Option<Func> {
        ALL.into_iter().find(|f| f.name() == name)
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Func::Ceil => "ceil",
            Func::Floor => "floor",
            Func::Round => "round",
            Func::Abs => "abs",
            Func::Sqrt => "sqrt",
            Func::Min => "min",
            Func::Max => "max",
            Func::Clamp => "clamp",
        }
    }

    /// The parameters as messages name them.
    pub(crate) fn params(self) -> &'static [&'static str] {
        match self {
            Func::Min | Func::Max => &["a", "b"],
            Func::Clamp => &["x", "lo", "hi"],
            _ => &["x"],
        }
    }

    /// `clamp(x, 2, 32)`: how a call is written, for messages.
    pub(crate) fn signature(self) -> String {
        format!("{}({})", self.name(), self.params().join(", "))
    }

    /// Applies the function to arguments already checked to be as many as `params`. Rounding
    /// is half away from zero and `clamp` is `min(max(x, lo), hi)`, as in the SQL rendering.
    pub(crate) fn apply(self, args: &[f64]) -> f64 {
        match (self, args) {
            (Func::Ceil, [x]) => x.ceil(),
            (Func::Floor, [x]) => x.floor(),
            (Func::Round, [x]) => x.round(),
            (Func::Abs, [x]) => x.abs(),
            (Func::Sqrt, [x]) => x.sqrt(),
            (Func::Min, [a, b]) => a.min(*b),
            (Func::Max, [a, b]) => a.max(*b),
            (Func::Clamp, [x, lo, hi]) => x.max(*lo).min(*hi),
            _ => f64::NAN,
        }
    }
}

/// `ceil, floor, ..., clamp`, for "expected one of" messages.
pub(crate) fn names() -> String {
    ALL.iter().map(|f| f.name()).collect::<Vec<_>>().join(", ")
}
