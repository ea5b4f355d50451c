//! A table's records kept in memory for many list reads ([`TableView`]): the pages are those
//! [`ListParams::page`] gives over the same records, and what every read would redo is kept
//! between reads until the records change: which records each narrowing condition
//! ([`Query::narrowing`]) leaves (the evaluator still judges each of them), and the records'
//! order under each `ORDERBY` asked for.

use super::{project, ListAnswer, ListParams, Page};
use crate::query::{Query, QueryContext};
use crate::record::Record;
use serde_json::Value;
use std::cell::RefCell;
use std::rc::Rc;

/// How many narrowings and how many `ORDERBY` orders a view keeps each; the oldest goes
/// first (an app pages by a few).
const KEPT: usize = 8;

/// A narrowing condition: a field and the strings it must be one of.
pub type Narrowing = (String, Vec<String>);

/// Whether `record` meets a narrowing condition: its field is a string, one of the texts.
pub fn narrowed_by(record: &Record, (field, texts): &Narrowing) -> bool {
    record
        .get(field)
        .and_then(Value::as_str)
        .is_some_and(|text| texts.iter().any(|t| t == text))
}

/// Which records, by position, meet a narrowing condition, and how many do.
type Leaves = (Rc<[bool]>, usize);

/// Records in `sys_id` order (records without one are not kept), with what list reads derive
/// from them; any change forgets what was derived.
#[derive(Debug, Default)]
pub struct TableView {
    records: Vec<Record>,
    /// Per narrowing met so far: which records, by position, meet it, and how many.
    narrowed: RefCell<Vec<(Narrowing, Leaves)>>,
    /// Per ORDERBY ([`Query::ordering`]) met so far: the positions in its order.
    orders: RefCell<Vec<(Query, Rc<[usize]>)>>,
}

impl TableView {
    /// A view of `records` (of two with one `sys_id`, the last). Cheapest in `sys_id` order,
    /// as an IndexedDB index gives them: each then joins at the end.
    pub fn new(records: impl IntoIterator<Item = Record>) -> Self {
        let mut view = Self::default();
        for record in records {
            view.put(record);
        }
        view
    }

    /// The records, in `sys_id` order.
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// Puts a record in, in place of the one with its `sys_id` (one without is not kept).
    pub fn put(&mut self, record: Record) {
        let Some(sys_id) = record.sys_id() else {
            return;
        };
        match self.position(sys_id) {
            Ok(at) => self.records[at] = record,
            Err(at) => self.records.insert(at, record),
        }
        self.changed();
    }

    /// Takes the record with `sys_id` out, if it is kept.
    pub fn remove(&mut self, sys_id: &str) {
        if let Ok(at) = self.position(sys_id) {
            self.records.remove(at);
            self.changed();
        }
    }

    fn position(&self, sys_id: &str) -> Result<usize, usize> {
        self.records
            .binary_search_by(|r| r.sys_id().unwrap_or_default().cmp(sys_id))
    }

    fn changed(&mut self) {
        self.narrowed.get_mut().clear();
        self.orders.get_mut().clear();
    }

    /// Which records, by position, can match `query` (`None`: any can): those the narrowing
    /// condition that leaves the fewest leaves.
    fn candidates(&self, query: &Query, ctx: &QueryContext) -> Option<Rc<[bool]>> {
        let narrowed = query.narrowing(ctx).into_iter().map(|n| self.narrowed(n));
        narrowed
            .min_by_key(|(_, count)| *count)
            .map(|(leaves, _)| leaves)
    }

    fn narrowed(&self, narrowing: Narrowing) -> Leaves {
        if let Some((_, kept)) = self.narrowed.borrow().iter().find(|(n, _)| *n == narrowing) {
            return kept.clone();
        }
        let leaves: Rc<[bool]> = self
            .records
            .iter()
            .map(|r| narrowed_by(r, &narrowing))
            .collect();
        let count = leaves.iter().filter(|&&leaves| leaves).count();
        keep(&self.narrowed, (narrowing, (leaves.clone(), count)));
        (leaves, count)
    }

    /// The positions of the records in `query`'s ORDERBY order, ties in `sys_id` order.
    fn order(&self, query: &Query) -> Rc<[usize]> {
        if let Some((_, order)) = self
            .orders
            .borrow()
            .iter()
            .find(|(o, _)| o.same_order(query))
        {
            return order.clone();
        }
        let order: Rc<[usize]> = query.order_of(&self.records).into();
        keep(&self.orders, (query.ordering(), order.clone()));
        order
    }
}

/// Keeps `item` among at most [`KEPT`], the oldest going first.
fn keep<T>(kept: &RefCell<Vec<T>>, item: T) {
    let mut kept = kept.borrow_mut();
    if kept.len() >= KEPT {
        kept.remove(0);
    }
    kept.push(item);
}

impl ListParams {
    /// The page these parameters select from a view: the same as [`ListParams::page`] over
    /// its records (the tests below hold the two to that), with only the candidates of a
    /// narrowing condition judged, taken in the view's kept order, so nothing is compared.
    pub fn page_view(&self, view: &TableView, ctx: &QueryContext) -> Page {
        let records = view.records();
        let candidates = view.candidates(&self.query, ctx);
        let wanted = self.offset..self.offset.saturating_add(self.limit);
        let mut total = 0;
        let mut result = Vec::new();
        for &at in view.order(&self.query).iter() {
            let record = &records[at];
            if candidates.as_deref().is_none_or(|c| c[at]) && self.query.matches(record, ctx) {
                if wanted.contains(&total) {
                    result.push(project(record.clone(), self.fields.as_deref()));
                }
                total += 1;
            }
        }
        Page {
            total,
            body: ListAnswer { result },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> QueryContext {
        QueryContext {
            user_name: "beth.anglin".into(),
            user_sys_id: "u".into(),
        }
    }

    /// Ties in priority, states of several kinds (a number among them), some unassigned.
    fn record(n: usize, state: serde_json::Value) -> Record {
        Record::from_value(json!({
            "sys_id": format!("{:032x}", (n * 7919) % 1000), "number": format!("T{n}"),
            "priority": n % 4, "state": state,
            "assigned_to": if n % 5 == 0 { "" } else if n % 2 == 0 { "u" } else { "x" },
        }))
        .unwrap()
    }

    fn records() -> Vec<Record> {
        let states = [json!("a"), json!("b"), json!("b"), json!(3), json!("3")];
        (0..60).map(|n| record(n, states[n % 5].clone())).collect()
    }

    const QUERIES: [&str; 10] = [
        "state=b^ORDERBYpriority",
        "stateINa,b^ORDERBYDESCpriority^ORDERBYnumber",
        "state=b",
        "",
        "ORDERBYpriority",
        "state=3^ORDERBYpriority",
        "state=b^ORstate=a^ORDERBYpriority",
        "assigned_to=javascript:gs.getUserID()^state=b^ORDERBYDESCnumber",
        "state=b^NQstate=a^ORDERBYpriority",
        "state=zzz^ORDERBYpriority",
    ];

    /// Every query and slice gives from the view what paging the plain records gives.
    fn assert_same_pages(view: &TableView, records: &[Record]) {
        let mut sorted = records.to_vec();
        sorted.sort_by(|a, b| a.sys_id().cmp(&b.sys_id()));
        for query in QUERIES {
            for (offset, limit) in [(0, 5), (3, 7), (0, 100), (20, 3), (70, 5), (0, 0)] {
                let params = ListParams {
                    query: Query::parse(query).unwrap(),
                    limit,
                    offset,
                    fields: None,
                };
                assert_eq!(
                    params.page_view(view, &ctx()),
                    params.page(sorted.clone(), &ctx()),
                    "{query} {offset}+{limit}"
                );
            }
        }
    }

    #[test]
    fn a_view_pages_as_the_plain_records_do() {
        let records = records();
        assert_same_pages(&TableView::new(records.clone()), &records);
    }

    #[test]
    fn a_view_pages_the_changed_records_after_a_put_or_a_remove() {
        let mut records = records();
        let mut view = TableView::new(records.clone());
        // Read once, so indexes and orders are kept before the changes.
        assert_same_pages(&view, &records);
        let moved = record(4, json!("b"));
        view.put(moved.clone());
        records.retain(|r| r.sys_id() != moved.sys_id());
        records.push(moved);
        let added =
            Record::from_value(json!({"sys_id": "0", "priority": 0, "state": "b"})).unwrap();
        view.put(added.clone());
        records.push(added);
        let gone = records.remove(10);
        view.remove(gone.sys_id().unwrap());
        assert_same_pages(&view, &records);
        assert_eq!(view.records().len(), records.len());
    }
}
