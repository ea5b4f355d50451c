//! A table's records kept in memory for many list reads ([`TableView`]): the pages are those
//! [`ListParams::page`] gives over the same records, and what every read would redo is kept
//! between reads until the records change: the positions of the records by a field's text,
//! for the conditions [`Query::narrowing`] finds (the evaluator still judges each candidate),
//! and the records' order under each `ORDERBY` asked for.

use super::{ListParams, Page};
use crate::query::{Query, QueryContext};
use crate::record::Record;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// How many `ORDERBY` orders a view keeps; the oldest goes first (an app pages by a few).
const ORDERS_KEPT: usize = 8;

/// The positions of the records whose field is a string, by that string.
type FieldIndex = HashMap<String, Vec<usize>>;

/// Records in `sys_id` order (records without one are not kept), with what list reads derive
/// from them; any change forgets what was derived.
#[derive(Clone, Debug, Default)]
pub struct TableView {
    records: Vec<Record>,
    indexes: RefCell<HashMap<String, Rc<FieldIndex>>>,
    orders: RefCell<Vec<(Query, Rc<[usize]>)>>,
}

impl TableView {
    /// A view of `records`, in any order.
    pub fn new(records: impl IntoIterator<Item = Record>) -> Self {
        let mut records: Vec<Record> = records
            .into_iter()
            .filter(|r| r.sys_id().is_some())
            .collect();
        records.sort_by(|a, b| a.sys_id().cmp(&b.sys_id()));
        records.dedup_by(|a, b| a.sys_id() == b.sys_id());
        Self {
            records,
            ..Self::default()
        }
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
        self.indexes.get_mut().clear();
        self.orders.get_mut().clear();
    }

    /// The positions, ascending, of the only records that can match `query` (`None`: any
    /// can): the fewest that one of its narrowing conditions leaves.
    fn candidates(&self, query: &Query, ctx: &QueryContext) -> Option<Vec<usize>> {
        query
            .narrowing(ctx)
            .into_iter()
            .map(|(field, texts)| {
                let index = self.index(&field);
                let mut positions: Vec<usize> = texts
                    .iter()
                    .filter_map(|t| index.get(t))
                    .flatten()
                    .copied()
                    .collect();
                positions.sort_unstable();
                positions.dedup();
                positions
            })
            .min_by_key(Vec::len)
    }

    fn index(&self, field: &str) -> Rc<FieldIndex> {
        if let Some(index) = self.indexes.borrow().get(field) {
            return index.clone();
        }
        let mut index = FieldIndex::new();
        for (at, record) in self.records.iter().enumerate() {
            if let Some(text) = record.get(field).and_then(|v| v.as_str()) {
                index.entry(text.to_string()).or_default().push(at);
            }
        }
        let index = Rc::new(index);
        self.indexes
            .borrow_mut()
            .insert(field.to_string(), index.clone());
        index
    }

    /// The positions of the records in `query`'s ORDERBY order, ties in `sys_id` order.
    fn order(&self, query: &Query) -> Rc<[usize]> {
        if let Some((_, order)) = self
            .orders
            .borrow()
            .iter()
            .find(|(q, _)| q.same_order(query))
        {
            return order.clone();
        }
        let order: Rc<[usize]> = query.order_of(&self.records).into();
        let mut orders = self.orders.borrow_mut();
        if orders.len() >= ORDERS_KEPT {
            orders.remove(0);
        }
        orders.push((query.clone(), order.clone()));
        order
    }
}

impl ListParams {
    /// The page these parameters select from a view: the same as [`ListParams::page`] over
    /// its records, with only the candidates of a narrowing condition judged, and with an
    /// ORDERBY the records taken in the view's kept order.
    pub fn page_view(&self, view: &TableView, ctx: &QueryContext) -> Page {
        let records = view.records();
        let candidates = view.candidates(&self.query, ctx);
        if !self.query.has_order() {
            let mut pager = self.pager(ctx);
            match candidates {
                Some(positions) => positions
                    .iter()
                    .for_each(|&at| pager.offer_ref(&records[at])),
                None => records.iter().for_each(|r| pager.offer_ref(r)),
            }
            return pager.finish();
        }
        let order = view.order(&self.query);
        let mut pager = self.pager_in_order(ctx);
        match candidates {
            Some(positions) => {
                let mut candidate = vec![false; records.len()];
                for at in positions {
                    candidate[at] = true;
                }
                for &at in order.iter().filter(|&&at| candidate[at]) {
                    pager.offer_ref(&records[at]);
                }
            }
            None => order.iter().for_each(|&at| pager.offer_ref(&records[at])),
        }
        pager.finish()
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
