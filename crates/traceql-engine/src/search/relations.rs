//! Structural relations between the spans of two leaf filters within one trace part, tested
//! exactly on the nested-set bounds of the spans that match either leaf: the candidate test
//! of `{A} > {B}`, `{A} < {B}`, `{A} >> {B}`, `{A} << {B}`, `{A} ~ {B}`, their union forms and
//! their negations `!>`, `!<`, `!>>`, `!<<`, `!~`.
//! Spans without a place in the tree (see `traceql_storage::nested_set`) relate to nothing: they
//! never hold a pair and are always alone.

use traceql_syntax::ast::SpansetOp;

/// How a span of the upper leaf and a different span of the lower leaf must stand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// They share a parent.
    Sibling,
    /// The upper span is the lower span's parent.
    Child,
    /// The upper span is a (strict) ancestor of the lower span.
    Descendant,
}

/// What the test of a relation looks for in a trace part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wanted {
    /// Two different spans standing in the relation, one of each leaf (plain and union
    /// operators).
    Pair,
    /// A span of the lower leaf that no span of the upper leaf stands in the relation with
    /// (`!>`, `!>>`, `!~`).
    LowerAlone,
    /// A span of the upper leaf that stands in the relation with no span of the lower leaf
    /// (`!<`, `!<<`).
    UpperAlone,
}

/// A relation the spans of a trace part must hold between leaf `upper` and leaf `lower`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Relation {
    /// How the two spans stand.
    pub kind: Kind,
    /// The leaf of the parent or ancestor (for siblings, of either one).
    pub upper: usize,
    /// The leaf of the child or descendant (for siblings, of the other one).
    pub lower: usize,
    /// A pair, or a span alone.
    pub wanted: Wanted,
}

impl Relation {
    /// The relation between the spans of leaves `lhs` and `rhs` that the structural operator
    /// `op` (plain, union or negated) tests; `None` for `&&` and `||`.
    pub fn of(op: SpansetOp, lhs: usize, rhs: usize) -> Option<Relation> {
        use Wanted::{LowerAlone, Pair, UpperAlone};
        let (kind, upper, lower, wanted) = match op {
            SpansetOp::Child | SpansetOp::UnionChild => (Kind::Child, lhs, rhs, Pair),
            SpansetOp::Parent | SpansetOp::UnionParent => (Kind::Child, rhs, lhs, Pair),
            SpansetOp::Descendant | SpansetOp::UnionDescendant => {
                (Kind::Descendant, lhs, rhs, Pair)
            }
            SpansetOp::Ancestor | SpansetOp::UnionAncestor => (Kind::Descendant, rhs, lhs, Pair),
            SpansetOp::Sibling | SpansetOp::UnionSibling => (Kind::Sibling, lhs, rhs, Pair),
            // `B` spans whose parent is no `A` span, that are the parent of no `A` span, …
            SpansetOp::NotChild => (Kind::Child, lhs, rhs, LowerAlone),
            SpansetOp::NotParent => (Kind::Child, rhs, lhs, UpperAlone),
            SpansetOp::NotDescendant => (Kind::Descendant, lhs, rhs, LowerAlone),
            SpansetOp::NotAncestor => (Kind::Descendant, rhs, lhs, UpperAlone),
            SpansetOp::NotSibling => (Kind::Sibling, lhs, rhs, LowerAlone),
            SpansetOp::And | SpansetOp::Or => return None,
        };
        Some(Relation {
            kind,
            upper,
            lower,
            wanted,
        })
    }

    /// Whether a span without a place in the tree that matches the upper leaf when `upper`
    /// and the lower leaf when `lower` makes the relation hold on its own.
    pub fn holds_unplaced(&self, upper: bool, lower: bool) -> bool {
        match self.wanted {
            Wanted::Pair => false,
            Wanted::LowerAlone => lower,
            Wanted::UpperAlone => upper,
        }
    }

    /// Whether the placed spans `members` (reordered here) hold the relation; `paired` is
    /// scratch space.
    pub fn holds(&self, members: &mut [Member], paired: &mut Vec<bool>) -> bool {
        // Most trace parts lack spans of one side: no pairing needed to know the answer.
        let uppers = members.iter().any(|m| m.upper);
        let lowers = members.iter().any(|m| m.lower);
        match self.wanted {
            Wanted::Pair if !(uppers && lowers) => return false,
            Wanted::LowerAlone if !(uppers && lowers) => return lowers,
            Wanted::UpperAlone if !(uppers && lowers) => return uppers,
            _ => {}
        }
        let (side, alone) = match self.wanted {
            // A pair has a lower span with a partner.
            Wanted::Pair => (Side::Lower, false),
            Wanted::LowerAlone => (Side::Lower, true),
            Wanted::UpperAlone => (Side::Upper, true),
        };
        self.kind.pair(members, side, paired);
        (members.iter().zip(paired.iter())).any(|(m, &p)| side.of(m) && p != alone)
    }
}

/// One side of a relation: the spans of its upper or of its lower leaf.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// Parents, ancestors, or the first of two siblings.
    Upper,
    /// Children, descendants, or the second of two siblings.
    Lower,
}

impl Side {
    /// Whether `m` is on this side.
    pub fn of(self, m: &Member) -> bool {
        match self {
            Side::Upper => m.upper,
            Side::Lower => m.lower,
        }
    }

    /// The other side.
    pub fn other(self) -> Side {
        match self {
            Side::Upper => Side::Lower,
            Side::Lower => Side::Upper,
        }
    }
}

/// The names, in the candidate spans, of the place columns (nested-set bounds `left` and
/// `right`, the parent's left bound `parent`) that testing `relations` reads.
pub fn place_columns(relations: &[Relation]) -> Vec<&'static str> {
    let reads = |name: &str| {
        relations.iter().any(|r| match r.kind {
            Kind::Sibling => name == "parent",
            Kind::Child => name != "right",
            Kind::Descendant => name != "parent",
        })
    };
    ["left", "right", "parent"]
        .into_iter()
        .filter(|name| reads(name))
        .collect()
}

/// A span with a place in the tree that matches a relation's upper leaf, lower leaf or both
/// (bounds its relation does not read are 0). Metrics of `{ A } && { B }` and `{ A } || { B }`
/// use it without a place, for any span of either side.
#[derive(Clone, Copy, Debug)]
pub struct Member {
    /// Its nested-set bounds.
    pub left: i32,
    pub right: i32,
    /// Its parent's left bound.
    pub parent: i32,
    /// It matches the upper leaf.
    pub upper: bool,
    /// It matches the lower leaf.
    pub lower: bool,
    /// Its row among the spans of its trace part.
    pub row: u32,
}

impl Kind {
    /// Sets `paired[i]` to whether `members[i]` is on `side` and a different member on the
    /// other side stands in this relation with it (`members` may be reordered first).
    pub fn pair(self, members: &mut [Member], side: Side, paired: &mut Vec<bool>) {
        paired.clear();
        match (self, side) {
            (Kind::Sibling, _) => {
                members.sort_unstable_by_key(|m| m.parent);
                for children in members.chunk_by(|a, b| a.parent == b.parent) {
                    let others = children.iter().filter(|m| side.other().of(m)).count();
                    // A span is not its own sibling.
                    paired.extend(
                        children
                            .iter()
                            .map(|m| side.of(m) && others > usize::from(side.other().of(m))),
                    );
                }
            }
            (Kind::Child, Side::Lower) => {
                let parents = sorted(uppers(members).map(|m| m.left));
                let has_parent = |m: &Member| parents.binary_search(&m.parent).is_ok();
                paired.extend(members.iter().map(|m| m.lower && has_parent(m)));
            }
            (Kind::Child, Side::Upper) => {
                let parents = sorted(lowers(members).map(|m| m.parent));
                let has_child = |m: &Member| parents.binary_search(&m.left).is_ok();
                paired.extend(members.iter().map(|m| m.upper && has_child(m)));
            }
            (Kind::Descendant, Side::Lower) => {
                let ancestors = Ancestors::of(members);
                paired.extend(members.iter().map(|m| m.lower && ancestors.cover(m.left)));
            }
            (Kind::Descendant, Side::Upper) => {
                let lefts = sorted(lowers(members).map(|m| m.left));
                // The first lower span starting after an upper one must start inside it.
                let has_descendant = |m: &Member| {
                    let after = lefts.partition_point(|&left| left <= m.left);
                    lefts.get(after).is_some_and(|&left| left < m.right)
                };
                paired.extend(members.iter().map(|m| m.upper && has_descendant(m)));
            }
        }
    }
}

fn sorted(values: impl Iterator<Item = i32>) -> Vec<i32> {
    let mut values: Vec<i32> = values.collect();
    values.sort_unstable();
    values
}

/// The nested sets of the spans matching the upper leaf, ordered by left bound, with the
/// largest right bound up to each: whether some of them strictly contains a place.
struct Ancestors {
    lefts: Vec<i32>,
    reach: Vec<i32>,
}

impl Ancestors {
    fn of(members: &[Member]) -> Ancestors {
        let mut bounds: Vec<(i32, i32)> = uppers(members).map(|m| (m.left, m.right)).collect();
        bounds.sort_unstable();
        let reach = bounds
            .iter()
            .scan(i32::MIN, |max, &(_, right)| {
                *max = (*max).max(right);
                Some(*max)
            })
            .collect();
        Ancestors {
            lefts: bounds.into_iter().map(|(left, _)| left).collect(),
            reach,
        }
    }

    /// Whether some ancestor starts before `left` and ends after it.
    fn cover(&self, left: i32) -> bool {
        let before = self.lefts.partition_point(|&l| l < left);
        before > 0 && self.reach[before - 1] > left
    }
}

fn uppers(members: &[Member]) -> impl Iterator<Item = &Member> {
    members.iter().filter(|m| m.upper)
}

fn lowers(members: &[Member]) -> impl Iterator<Item = &Member> {
    members.iter().filter(|m| m.lower)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tree: 1 [1,10] has children 2 [2,5] and 4 [6,9]; 2 has child 3 [3,4]; 4 has child
    /// 5 [7,8]. Each span as (left, right, parent left).
    const TREE: [(i32, i32, i32); 5] = [(1, 10, -1), (2, 5, 1), (3, 4, 2), (6, 9, 1), (7, 8, 6)];

    /// The tree's spans, those at index `upper` matching the upper leaf and at `lower` the
    /// lower one.
    fn members(upper: &[usize], lower: &[usize]) -> Vec<Member> {
        TREE.iter()
            .enumerate()
            .map(|(i, &(left, right, parent))| Member {
                left,
                right,
                parent,
                upper: upper.contains(&i),
                lower: lower.contains(&i),
                row: i as u32,
            })
            .filter(|m| m.upper || m.lower)
            .collect()
    }

    fn test(kind: Kind, wanted: Wanted, upper: &[usize], lower: &[usize]) -> bool {
        let relation = Relation {
            kind,
            upper: 0,
            lower: 1,
            wanted,
        };
        relation.holds(&mut members(upper, lower), &mut Vec::new())
    }

    fn holds(kind: Kind, upper: &[usize], lower: &[usize]) -> bool {
        test(kind, Wanted::Pair, upper, lower)
    }

    /// Some span of `lower` has no partner in `upper`.
    fn lower_alone(kind: Kind, upper: &[usize], lower: &[usize]) -> bool {
        test(kind, Wanted::LowerAlone, upper, lower)
    }

    /// Some span of `upper` has no partner in `lower`.
    fn upper_alone(kind: Kind, upper: &[usize], lower: &[usize]) -> bool {
        test(kind, Wanted::UpperAlone, upper, lower)
    }

    #[test]
    fn not_child_needs_a_lower_span_whose_parent_is_no_upper_span() {
        assert!(!lower_alone(Kind::Child, &[0], &[1, 3]));
        assert!(lower_alone(Kind::Child, &[0], &[1, 2]), "a grandchild");
        assert!(
            lower_alone(Kind::Child, &[1], &[0]),
            "the root has no parent"
        );
        assert!(lower_alone(Kind::Child, &[], &[4]), "no upper spans at all");
        assert!(!lower_alone(Kind::Child, &[0, 1], &[]), "no lower spans");
    }

    #[test]
    fn not_parent_needs_an_upper_span_that_is_parent_of_no_lower_span() {
        assert!(!upper_alone(Kind::Child, &[0, 3], &[1, 4]));
        assert!(
            upper_alone(Kind::Child, &[0, 3], &[1]),
            "3 has no lower child"
        );
        assert!(upper_alone(Kind::Child, &[2], &[0, 1, 3, 4]), "a leaf");
        assert!(upper_alone(Kind::Child, &[1], &[]), "no lower spans at all");
        assert!(!upper_alone(Kind::Child, &[], &[1]), "no upper spans");
    }

    #[test]
    fn not_descendant_needs_a_lower_span_without_an_upper_ancestor() {
        assert!(!lower_alone(Kind::Descendant, &[0], &[1, 2, 3, 4]));
        assert!(
            lower_alone(Kind::Descendant, &[1], &[2, 4]),
            "another branch"
        );
        assert!(
            lower_alone(Kind::Descendant, &[2], &[2]),
            "a span is not its own ancestor"
        );
        // An early ancestor reaching far covers a later span after a short one.
        assert!(!lower_alone(Kind::Descendant, &[0, 2], &[4]));
        assert!(lower_alone(Kind::Descendant, &[], &[0]));
    }

    #[test]
    fn not_ancestor_needs_an_upper_span_with_no_lower_descendant() {
        assert!(!upper_alone(Kind::Descendant, &[0, 1, 3], &[2, 4]));
        assert!(
            upper_alone(Kind::Descendant, &[0, 1], &[4]),
            "1 is on another branch"
        );
        assert!(
            upper_alone(Kind::Descendant, &[1], &[1]),
            "a span is not its own descendant"
        );
        assert!(upper_alone(Kind::Descendant, &[0], &[]));
        assert!(
            !upper_alone(Kind::Descendant, &[0], &[4]),
            "a grandchild counts"
        );
    }

    #[test]
    fn not_sibling_needs_a_span_without_a_different_sibling_on_the_other_side() {
        assert!(!lower_alone(Kind::Sibling, &[1], &[3]));
        assert!(lower_alone(Kind::Sibling, &[1], &[1]), "one span alone");
        assert!(
            !lower_alone(Kind::Sibling, &[1, 3], &[1, 3]),
            "each has the other"
        );
        assert!(lower_alone(Kind::Sibling, &[1, 3], &[0]), "the root alone");
        assert!(lower_alone(Kind::Sibling, &[2], &[4]), "cousins");
        assert!(
            upper_alone(Kind::Sibling, &[1, 2], &[3]),
            "2 has no sibling"
        );
        assert!(!upper_alone(Kind::Sibling, &[1], &[3]));
    }

    #[test]
    fn unplaced_spans_are_alone_and_pair_with_nothing() {
        let relation = |wanted| Relation {
            kind: Kind::Child,
            upper: 0,
            lower: 1,
            wanted,
        };
        assert!(!relation(Wanted::Pair).holds_unplaced(true, true));
        assert!(relation(Wanted::LowerAlone).holds_unplaced(false, true));
        assert!(!relation(Wanted::LowerAlone).holds_unplaced(true, false));
        assert!(relation(Wanted::UpperAlone).holds_unplaced(true, false));
        assert!(!relation(Wanted::UpperAlone).holds_unplaced(false, true));
    }

    #[test]
    fn child_needs_the_upper_span_to_be_the_parent() {
        assert!(holds(Kind::Child, &[0], &[1]));
        assert!(holds(Kind::Child, &[3], &[4]));
        assert!(!holds(Kind::Child, &[0], &[2]), "a grandchild is no child");
        assert!(!holds(Kind::Child, &[1], &[0]), "the other way round");
        assert!(!holds(Kind::Child, &[1], &[4]), "a cousin");
        assert!(
            !holds(Kind::Child, &[0, 1, 2, 3, 4], &[0]),
            "the root has no parent"
        );
    }

    #[test]
    fn descendant_needs_the_upper_span_to_be_a_strict_ancestor() {
        assert!(holds(Kind::Descendant, &[0], &[2]));
        assert!(holds(Kind::Descendant, &[1, 3], &[4]));
        assert!(!holds(Kind::Descendant, &[1], &[4]), "another branch");
        assert!(
            !holds(Kind::Descendant, &[2], &[2]),
            "a span is not its own ancestor"
        );
        assert!(
            !holds(Kind::Descendant, &[2, 4], &[0, 1, 3]),
            "leaves have no descendants"
        );
        // An early ancestor reaching far covers a later span after a short one.
        assert!(holds(Kind::Descendant, &[0, 2], &[4]));
    }

    #[test]
    fn each_relation_reads_only_the_place_columns_it_needs() {
        let of = |kinds: &[Kind]| {
            let relations: Vec<Relation> = kinds
                .iter()
                .map(|&kind| Relation {
                    kind,
                    upper: 0,
                    lower: 1,
                    wanted: Wanted::Pair,
                })
                .collect();
            place_columns(&relations)
        };
        assert_eq!(of(&[Kind::Sibling]), ["parent"]);
        assert_eq!(of(&[Kind::Child]), ["left", "parent"]);
        assert_eq!(of(&[Kind::Descendant]), ["left", "right"]);
        assert_eq!(
            of(&[Kind::Sibling, Kind::Descendant]),
            ["left", "right", "parent"]
        );
        assert!(of(&[]).is_empty());
    }

    #[test]
    fn siblings_need_two_different_spans_of_one_parent() {
        assert!(holds(Kind::Sibling, &[1], &[3]));
        assert!(!holds(Kind::Sibling, &[1], &[1]), "one span alone");
        assert!(
            holds(Kind::Sibling, &[1, 3], &[1]),
            "one matching both and another"
        );
        assert!(!holds(Kind::Sibling, &[2], &[4]), "cousins");
    }
}
