//! Structural relations between the spans of two leaf filters within one trace part, tested
//! exactly on the nested-set bounds of the spans that match either leaf: the candidate test
//! of `{A} > {B}`, `{A} < {B}`, `{A} >> {B}`, `{A} << {B}`, `{A} ~ {B}` and their union forms.
//! Spans without a place in the tree (see `traceql_storage::nested_set`) relate to nothing.

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

/// A relation some pair of spans of a trace part must hold: one matching leaf `upper`, a
/// different one matching leaf `lower`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Relation {
    /// How the two spans stand.
    pub kind: Kind,
    /// The leaf of the parent or ancestor (for siblings, of either one).
    pub upper: usize,
    /// The leaf of the child or descendant (for siblings, of the other one).
    pub lower: usize,
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
/// (bounds its relation does not read are 0).
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
}

impl Kind {
    /// Whether two different spans among `members` (reordered here) stand in this relation,
    /// one matching the upper leaf and the other the lower.
    pub fn holds(self, members: &mut [Member]) -> bool {
        match self {
            Kind::Sibling => siblings(members),
            Kind::Child => {
                let mut parents: Vec<i32> = uppers(members).map(|m| m.left).collect();
                parents.sort_unstable();
                lowers(members).any(|m| parents.binary_search(&m.parent).is_ok())
            }
            Kind::Descendant => {
                let mut ancestors: Vec<(i32, i32)> =
                    uppers(members).map(|m| (m.left, m.right)).collect();
                ancestors.sort_unstable();
                // The largest right bound among the ancestors up to each one.
                let reach: Vec<i32> = ancestors
                    .iter()
                    .scan(i32::MIN, |max, &(_, right)| {
                        *max = (*max).max(right);
                        Some(*max)
                    })
                    .collect();
                lowers(members).any(|m| {
                    let before = ancestors.partition_point(|&(left, _)| left < m.left);
                    before > 0 && reach[before - 1] > m.left
                })
            }
        }
    }
}

fn uppers(members: &[Member]) -> impl Iterator<Item = &Member> {
    members.iter().filter(|m| m.upper)
}

fn lowers(members: &[Member]) -> impl Iterator<Item = &Member> {
    members.iter().filter(|m| m.lower)
}

/// Whether some parent has two different children, one matching each leaf: per parent, both
/// leaves matched, unless one child alone matches both.
fn siblings(members: &mut [Member]) -> bool {
    members.sort_unstable_by_key(|m| m.parent);
    members
        .chunk_by(|a, b| a.parent == b.parent)
        .any(|children| {
            let count = |side: fn(&Member) -> bool| children.iter().filter(|m| side(m)).count();
            let (upper, lower) = (count(|m| m.upper), count(|m| m.lower));
            upper >= 1
                && lower >= 1
                && !(upper == 1 && lower == 1 && count(|m| m.upper && m.lower) == 1)
        })
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
            })
            .filter(|m| m.upper || m.lower)
            .collect()
    }

    fn holds(kind: Kind, upper: &[usize], lower: &[usize]) -> bool {
        kind.holds(&mut members(upper, lower))
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
