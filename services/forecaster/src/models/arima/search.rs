//! The Hyndman–Khandakar stepwise search (auto.arima's and statsforecast's `AutoARIMA`'s
//! default): fit four starting models, then move to any neighbour — one of p, q, P, Q (or both
//! of a pair) one up or down, or the constant toggled — that lowers the AICc, until no
//! neighbour does or the budget of models is spent.

use super::css::{carry_over, Fitted, Order, Problem, SEARCH};

/// Bounds of the search.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_p: usize,
    pub max_q: usize,
    pub max_sp: usize,
    pub max_sq: usize,
    /// Whether a constant (mean or drift) may be fitted: d + D ≤ 1.
    pub constant: bool,
    /// Models fitted at most, the starting ones included.
    pub max_models: usize,
}

impl Limits {
    fn admits(&self, o: &Order) -> bool {
        o.p <= self.max_p
            && o.q <= self.max_q
            && o.sp <= self.max_sp
            && o.sq <= self.max_sq
            && (self.constant || !o.constant)
    }
}

/// The best model found and how many were fitted.
pub struct Searched {
    pub best: Fitted,
    pub tried: usize,
}

pub fn stepwise(problem: &Problem, limits: &Limits) -> Option<Searched> {
    let mut tried: Vec<Order> = Vec::new();
    let mut best: Option<Fitted> = None;
    let mut consider = |order: Order, parent: Option<&Fitted>, best: &mut Option<Fitted>| -> bool {
        if tried.len() >= limits.max_models || !limits.admits(&order) || tried.contains(&order) {
            return false;
        }
        tried.push(order);
        // From where the parent ended when that is admissible, else from scratch; a fit that
        // ends next to a unit root is not retried from scratch (on the bench's series that
        // never rescued a model and was most of the cost of a slow search).
        let start = parent
            .map(|parent| carry_over(problem, parent, &order))
            .filter(|start| problem.admissible(&order, start))
            .unwrap_or_else(|| problem.cold_start(&order));
        let fitted = problem.fit(order, start, SEARCH);
        if std::env::var_os("ARIMA_DEBUG").is_some() {
            eprintln!(
                "{order:?} {:?}",
                fitted.as_ref().map(|f| (f.aicc, f.params.clone()))
            );
        }
        match fitted {
            Some(f) if best.as_ref().is_none_or(|b| f.aicc < b.aicc) => {
                *best = Some(f);
                true
            }
            _ => false,
        }
    };

    let constant = limits.constant;
    let seasonal = limits.max_sp > 0 || limits.max_sq > 0;
    let order = |p: usize, q: usize, sp: usize, sq: usize, constant: bool| Order {
        p: p.min(limits.max_p),
        q: q.min(limits.max_q),
        sp: sp.min(limits.max_sp),
        sq: sq.min(limits.max_sq),
        constant,
    };
    let s = usize::from(seasonal);
    for start in [
        order(2, 2, s, s, constant),
        order(0, 0, 0, 0, constant),
        order(1, 0, s, 0, constant),
        order(0, 1, 0, s, constant),
        order(0, 0, 0, 0, false),
    ] {
        consider(start, None, &mut best);
    }

    'moves: loop {
        let current = best.clone()?;
        let o = current.order;
        let shifts: [(isize, isize, isize, isize); 16] = [
            (0, 0, -1, 0),
            (0, 0, 0, -1),
            (0, 0, 1, 0),
            (0, 0, 0, 1),
            (0, 0, -1, -1),
            (0, 0, -1, 1),
            (0, 0, 1, -1),
            (0, 0, 1, 1),
            (-1, 0, 0, 0),
            (0, -1, 0, 0),
            (1, 0, 0, 0),
            (0, 1, 0, 0),
            (-1, -1, 0, 0),
            (-1, 1, 0, 0),
            (1, -1, 0, 0),
            (1, 1, 0, 0),
        ];
        for (dp, dq, dsp, dsq) in shifts {
            let moved = |v: usize, by: isize| v.checked_add_signed(by);
            let (Some(p), Some(q), Some(sp), Some(sq)) = (
                moved(o.p, dp),
                moved(o.q, dq),
                moved(o.sp, dsp),
                moved(o.sq, dsq),
            ) else {
                continue;
            };
            let neighbour = Order {
                p,
                q,
                sp,
                sq,
                constant: o.constant,
            };
            if consider(neighbour, Some(&current), &mut best) {
                continue 'moves;
            }
        }
        let toggled = Order {
            constant: !o.constant,
            ..o
        };
        if !consider(toggled, Some(&current), &mut best) {
            break;
        }
    }
    let best = best?;
    Some(Searched {
        best,
        tried: tried.len(),
    })
}
