use super::*;
use serde_json::{json, Value};

fn record(value: Value) -> Record {
    Record::from_value(value).expect("fixture is a JSON object")
}

fn query(text: &str) -> Query {
    Query::parse(text).unwrap_or_else(|e| panic!("{text:?} should parse: {e}"))
}

fn ctx() -> QueryContext {
    QueryContext {
        user_name: "beth.anglin".into(),
        user_sys_id: "46d44a23a9fe19810012d100cca80666".into(),
    }
}

/// Whether `text` matches the record built from `value`, as `ctx()`.
fn hits(text: &str, value: Value) -> bool {
    query(text).matches(&record(value), &ctx())
}

/// The position and fault of a query that must not parse.
fn fault(text: &str) -> (usize, String) {
    match Query::parse(text) {
        Ok(q) => panic!("{text:?} should not parse, got {q:?}"),
        Err(e) => (e.position, e.fault),
    }
}

fn numbers(records: &[Record]) -> Vec<String> {
    records
        .iter()
        .map(|r| r.text("number").unwrap_or_default())
        .collect()
}

// --- structure and precedence ---

#[test]
fn empty_and_blank_queries_match_everything() {
    for text in ["", "   ", "\t\n"] {
        let q = query(text);
        assert!(q.matches(&record(json!({})), &ctx()), "{text:?}");
        assert!(q.matches_all());
        assert!(!q.has_order());
        assert_eq!(q.text(), text);
    }
}

#[test]
fn caret_is_and() {
    assert!(hits("a=1^b=2", json!({"a": "1", "b": "2"})));
    assert!(!hits("a=1^b=2", json!({"a": "1", "b": "3"})));
    assert!(!hits("a=1^b=2", json!({"a": "0", "b": "2"})));
}

#[test]
fn or_binds_tighter_than_and() {
    let text = "a=1^b=2^ORc=3";
    assert!(hits(text, json!({"a": "1", "b": "2"})));
    assert!(hits(text, json!({"a": "1", "c": "3"})));
    assert!(!hits(text, json!({"a": "1"})));
    // (a=1 AND b=2) OR c=3 would match this; a=1 AND (b=2 OR c=3) does not.
    assert!(!hits(text, json!({"a": "0", "c": "3"})));
}

#[test]
fn or_chains_join_the_same_clause() {
    let text = "a=1^ORa=2^ORa=3^b=x";
    assert!(hits(text, json!({"a": "3", "b": "x"})));
    assert!(!hits(text, json!({"a": "4", "b": "x"})));
    assert!(!hits(text, json!({"a": "2", "b": "y"})));
}

#[test]
fn new_query_groups_are_alternatives() {
    let text = "a=1^NQb=2^c=3";
    assert!(hits(text, json!({"a": "1"})));
    assert!(hits(text, json!({"b": "2", "c": "3"})));
    assert!(!hits(text, json!({"b": "2"})));
    // Were NQ a plain OR on its neighbour, this would be (a=1 OR b=2) AND c=3: no match.
    assert!(hits(text, json!({"a": "1", "c": "0"})));
}

#[test]
fn or_inside_a_later_group_stays_in_that_group() {
    let text = "a=1^b=1^NQc=1^ORd=1";
    assert!(hits(text, json!({"d": "1"})));
    assert!(hits(text, json!({"a": "1", "b": "1"})));
    assert!(!hits(text, json!({"a": "1", "d": "0"})));
}

#[test]
fn trailing_eq_is_ignored() {
    assert!(hits("a=1^EQ", json!({"a": "1"})));
    assert!(!hits("a=1^EQ", json!({"a": "2"})));
    // Only after a caret: alone it is a field without an operator.
    assert_eq!(fault("EQ"), (2, "missing operator after field 'EQ'".into()));
    assert_eq!(query("a=1^ORDERBYb^EQ").fields().len(), 2);
}

#[test]
fn orderby_only_query_matches_everything_and_orders() {
    let q = query("ORDERBYnumber");
    assert!(q.matches_all());
    assert!(q.has_order());
    assert!(q.matches(&record(json!({})), &ctx()));
}

#[test]
fn orderby_between_conditions_does_not_split_them() {
    assert!(hits("a=1^ORDERBYx^b=2", json!({"a": "1", "b": "2"})));
    assert!(!hits("a=1^ORDERBYx^b=2", json!({"a": "1"})));
}

// --- equality ---

#[test]
fn equals_is_exact_and_case_sensitive() {
    assert!(hits("name=Beth", json!({"name": "Beth"})));
    assert!(!hits("name=Beth", json!({"name": "beth"})));
    assert!(!hits("name=Beth", json!({"name": "Beth "})));
    assert!(!hits("name=Bet", json!({"name": "Beth"})));
}

#[test]
fn equals_compares_numbers_and_booleans_as_json_text() {
    assert!(hits("n=10", json!({"n": 10})));
    assert!(!hits("n=10", json!({"n": 10.5})));
    assert!(hits("n=2.5", json!({"n": 2.5})));
    assert!(hits("active=true", json!({"active": true})));
    assert!(!hits("active=true", json!({"active": false})));
}

#[test]
fn equals_nothing_matches_missing_null_and_empty_string() {
    assert!(hits("f=", json!({})));
    assert!(hits("f=", json!({"f": null})));
    assert!(hits("f=", json!({"f": ""})));
    assert!(!hits("f=", json!({"f": "x"})));
}

#[test]
fn not_equals_is_the_negation_of_equals_including_empties() {
    assert!(hits("f!=x", json!({"f": "y"})));
    assert!(!hits("f!=x", json!({"f": "x"})));
    assert!(hits("f!=x", json!({})));
    assert!(hits("f!=x", json!({"f": null})));
    assert!(hits("f!=x", json!({"f": ""})));
    assert!(!hits("f!=", json!({"f": null})));
}

#[test]
fn values_may_contain_operator_characters() {
    assert!(hits("url=a=b!=c", json!({"url": "a=b!=c"})));
    assert!(hits(
        "short_descriptionLIKEx=y",
        json!({"short_description": "ax=yz"})
    ));
}

// --- string matching ---

#[test]
fn like_is_case_insensitive_contains() {
    assert!(hits(
        "descLIKEprint",
        json!({"desc": "The PRINTER is down"})
    ));
    assert!(hits("descLIKEPRINT", json!({"desc": "printer"})));
    assert!(!hits("descLIKEscan", json!({"desc": "printer"})));
    assert!(!hits("descLIKEprint", json!({})));
    assert!(!hits("descLIKEprint", json!({"desc": null})));
}

#[test]
fn not_like_in_both_spellings_negates_like_so_empties_match() {
    for op in ["NOTLIKE", "NOT LIKE"] {
        let text = format!("desc{op}print");
        assert!(!hits(&text, json!({"desc": "PRINTER"})), "{op}");
        assert!(hits(&text, json!({"desc": "scanner"})), "{op}");
        assert!(hits(&text, json!({})), "{op}");
        assert!(hits(&text, json!({"desc": null})), "{op}");
        assert!(hits(&text, json!({"desc": ""})), "{op}");
    }
}

#[test]
fn startswith_and_endswith_ignore_case() {
    assert!(hits("nameSTARTSWITHbe", json!({"name": "Beth Anglin"})));
    assert!(!hits("nameSTARTSWITHan", json!({"name": "Beth Anglin"})));
    assert!(hits("nameENDSWITHANGLIN", json!({"name": "Beth Anglin"})));
    assert!(!hits("nameENDSWITHbeth", json!({"name": "Beth Anglin"})));
    assert!(!hits("nameSTARTSWITHb", json!({})));
    assert!(!hits("nameENDSWITHb", json!({"name": null})));
}

#[test]
fn case_folding_is_unicode_aware() {
    assert!(hits("cityLIKEÜBER", json!({"city": "Überlingen"})));
    assert!(hits("citySTARTSWITHär", json!({"city": "ÄRGER"})));
    assert!(!hits("city=überlingen", json!({"city": "Überlingen"})));
}

// --- lists ---

#[test]
fn in_matches_any_exact_item() {
    assert!(hits("stateIN1,2,6", json!({"state": "2"})));
    assert!(hits("stateIN1,2,6", json!({"state": 6})));
    assert!(!hits("stateIN1,2,6", json!({"state": "3"})));
    assert!(!hits("stateIN1,2,6", json!({"state": "1,2"})));
    assert!(!hits("nameINbeth", json!({"name": "Beth"})));
    assert!(!hits("stateIN1,2", json!({})));
}

#[test]
fn in_items_are_not_trimmed() {
    assert!(!hits("stateIN1, 2", json!({"state": "2"})));
    assert!(hits("stateIN1, 2", json!({"state": " 2"})));
}

#[test]
fn in_with_an_empty_item_matches_empty_fields() {
    assert!(hits("stateIN1,", json!({})));
    assert!(hits("stateIN1,", json!({"state": ""})));
}

#[test]
fn not_in_is_the_negation_of_in() {
    assert!(hits("stateNOT IN1,2", json!({"state": "3"})));
    assert!(!hits("stateNOT IN1,2", json!({"state": "1"})));
    assert!(hits("stateNOT IN1,2", json!({})));
    assert!(hits("stateNOT IN1,2", json!({"state": null})));
}

// --- ordering comparisons ---

#[test]
fn ordering_is_numeric_when_both_sides_are_numbers() {
    // As strings "10" < "9"; as numbers 10 > 9.
    assert!(hits("n>9", json!({"n": "10"})));
    assert!(!hits("n<9", json!({"n": "10"})));
    assert!(hits("n<10", json!({"n": 9})));
    assert!(hits("n>=10", json!({"n": 10.0})));
    assert!(hits("n<=10", json!({"n": "10"})));
    assert!(!hits("n<10", json!({"n": "10"})));
    assert!(hits("n>-1.5", json!({"n": "-1"})));
    assert!(hits("n<1e3", json!({"n": "999"})));
}

#[test]
fn ordering_is_by_string_otherwise() {
    assert!(hits("s>a", json!({"s": "b"})));
    assert!(!hits("s<a", json!({"s": "b"})));
    assert!(hits("s>=b", json!({"s": "b"})));
    assert!(hits("s<=b", json!({"s": "b"})));
    // Case-sensitive code point order: "B" < "a".
    assert!(hits("s<a", json!({"s": "B"})));
}

#[test]
fn ordering_with_one_numeric_side_compares_strings() {
    // "abc" > "9" by string; no numeric reading exists.
    assert!(hits("n>9", json!({"n": "abc"})));
    assert!(hits("n<abc", json!({"n": "10"})));
    // "10x" is not a number, so "10x" < "9" as strings.
    assert!(hits("n<9", json!({"n": "10x"})));
}

#[test]
fn nan_and_infinity_are_not_numbers() {
    assert!(hits("n>5", json!({"n": "inf"})));
    assert!(hits("n>5", json!({"n": "NaN"})));
    assert!(!hits("n<5", json!({"n": "NaN"})));
}

#[test]
fn dates_compare_correctly_as_strings() {
    let r = json!({"due": "2026-03-05 09:00:00"});
    assert!(hits("due>2026-03-04 23:59:59", r.clone()));
    assert!(hits("due<2026-03-05 09:00:01", r.clone()));
    assert!(!hits("due<2026-03-05 09:00:00", r));
}

#[test]
fn ordering_comparisons_never_match_empty_fields() {
    for op in ["<", "<=", ">", ">="] {
        for empty in [json!({}), json!({"n": null}), json!({"n": ""})] {
            let text = format!("n{op}5");
            assert!(!hits(&text, empty.clone()), "{text} on {empty}");
        }
    }
}

#[test]
fn between_is_inclusive_and_numeric_for_numbers() {
    assert!(hits("nBETWEEN9@10", json!({"n": 9})));
    assert!(hits("nBETWEEN9@10", json!({"n": "10"})));
    assert!(hits("nBETWEEN9@100", json!({"n": "50"})));
    assert!(!hits("nBETWEEN9@10", json!({"n": "10.5"})));
    assert!(!hits("nBETWEEN9@10", json!({"n": 8})));
}

#[test]
fn between_compares_dates_as_strings() {
    let text = "dueBETWEEN2026-01-01 00:00:00@2026-01-31 23:59:59";
    assert!(hits(text, json!({"due": "2026-01-01 00:00:00"})));
    assert!(hits(text, json!({"due": "2026-01-31 23:59:59"})));
    assert!(hits(text, json!({"due": "2026-01-15 12:00:00"})));
    assert!(!hits(text, json!({"due": "2026-02-01 00:00:00"})));
    assert!(!hits(text, json!({"due": "2025-12-31 23:59:59"})));
}

#[test]
fn between_is_by_string_unless_all_three_are_numbers() {
    // Numerically 50 is outside 100..200, but with a word bound the comparison is textual,
    // where "100" <= "50" <= "a".
    assert!(hits("nBETWEEN100@a", json!({"n": "50"})));
    assert!(!hits("nBETWEEN100@200", json!({"n": "50"})));
}

#[test]
fn between_never_matches_empty_fields() {
    for empty in [json!({}), json!({"n": null}), json!({"n": ""})] {
        assert!(!hits("nBETWEEN@z", empty.clone()), "{empty}");
    }
}

// --- emptiness ---

#[test]
fn isempty_covers_missing_null_and_empty_string() {
    assert!(hits("fISEMPTY", json!({})));
    assert!(hits("fISEMPTY", json!({"f": null})));
    assert!(hits("fISEMPTY", json!({"f": ""})));
    assert!(!hits("fISEMPTY", json!({"f": " "})));
    assert!(!hits("fISEMPTY", json!({"f": 0})));
    assert!(!hits("fISEMPTY", json!({"f": false})));
}

#[test]
fn isnotempty_is_the_negation_of_isempty() {
    assert!(!hits("fISNOTEMPTY", json!({})));
    assert!(!hits("fISNOTEMPTY", json!({"f": null})));
    assert!(!hits("fISNOTEMPTY", json!({"f": ""})));
    assert!(hits("fISNOTEMPTY", json!({"f": "x"})));
    assert!(hits("fISNOTEMPTY", json!({"f": 0})));
}

#[test]
fn emptystring_needs_a_present_empty_string() {
    assert!(hits("fEMPTYSTRING", json!({"f": ""})));
    assert!(!hits("fEMPTYSTRING", json!({})));
    assert!(!hits("fEMPTYSTRING", json!({"f": null})));
    assert!(!hits("fEMPTYSTRING", json!({"f": "x"})));
}

#[test]
fn anything_matches_every_record() {
    assert!(hits("fANYTHING", json!({})));
    assert!(hits("fANYTHING", json!({"f": null})));
    assert!(hits("fANYTHING", json!({"f": "x"})));
}

// --- field to field ---

#[test]
fn sameas_compares_two_fields_exactly() {
    assert!(hits(
        "opened_bySAMEASassigned_to",
        json!({"opened_by": "a", "assigned_to": "a"})
    ));
    assert!(!hits(
        "opened_bySAMEASassigned_to",
        json!({"opened_by": "a", "assigned_to": "A"})
    ));
    assert!(hits("aSAMEASb", json!({"a": 5, "b": "5"})));
}

#[test]
fn sameas_treats_all_empties_as_equal() {
    assert!(hits("aSAMEASb", json!({})));
    assert!(hits("aSAMEASb", json!({"a": null, "b": ""})));
    assert!(!hits("aSAMEASb", json!({"a": "x"})));
}

#[test]
fn nsameas_is_the_negation_of_sameas() {
    assert!(hits("aNSAMEASb", json!({"a": "x", "b": "y"})));
    assert!(hits("aNSAMEASb", json!({"a": "x"})));
    assert!(!hits("aNSAMEASb", json!({"a": "x", "b": "x"})));
    assert!(!hits("aNSAMEASb", json!({"a": null})));
}

// --- dynamic values ---

#[test]
fn dynamic_user_values_resolve_from_the_context() {
    let r = json!({"assigned_to": "46d44a23a9fe19810012d100cca80666", "opened_by": "beth.anglin"});
    assert!(hits("assigned_to=javascript:gs.getUserID()", r.clone()));
    assert!(hits("opened_by=javascript:gs.getUserName()", r.clone()));
    assert!(!hits("opened_by=javascript:gs.getUserID()", r.clone()));
    assert!(hits("opened_by!=javascript:gs.getUserID()", r));
}

#[test]
fn dynamic_values_resolve_at_evaluation_time() {
    let q = query("opened_by=javascript:gs.getUserName()");
    let r = record(json!({"opened_by": "fred.luddy"}));
    assert!(!q.matches(&r, &ctx()));
    let fred = QueryContext {
        user_name: "fred.luddy".into(),
        ..ctx()
    };
    assert!(q.matches(&r, &fred));
}

#[test]
fn dynamic_values_resolve_per_in_item() {
    let text = "opened_byINfred.luddy,javascript:gs.getUserName()";
    assert!(hits(text, json!({"opened_by": "beth.anglin"})));
    assert!(hits(text, json!({"opened_by": "fred.luddy"})));
    assert!(!hits(
        text,
        json!({"opened_by": "javascript:gs.getUserName()"})
    ));
    assert!(!hits(
        "opened_byNOT INjavascript:gs.getUserName()",
        json!({"opened_by": "beth.anglin"})
    ));
}

#[test]
fn dynamic_values_work_with_like() {
    assert!(hits(
        "watch_listLIKEjavascript:gs.getUserID()",
        json!({"watch_list": "x,46D44A23A9FE19810012D100CCA80666"})
    ));
}

// --- ordering ---

fn numbered(rows: Value) -> Vec<Record> {
    match rows {
        Value::Array(rows) => rows.into_iter().map(record).collect(),
        other => panic!("fixture rows must be an array, got {other}"),
    }
}

#[test]
fn orderby_sorts_numbers_numerically() {
    let mut rows = numbered(json!([
        {"number": "a", "p": "10"},
        {"number": "b", "p": "9"},
        {"number": "c", "p": 1},
    ]));
    query("ORDERBYp").sort(&mut rows);
    assert_eq!(numbers(&rows), ["c", "b", "a"]);
    query("ORDERBYDESCp").sort(&mut rows);
    assert_eq!(numbers(&rows), ["a", "b", "c"]);
}

#[test]
fn orderby_sorts_text_case_sensitively() {
    let mut rows = numbered(json!([
        {"number": "1", "s": "b"},
        {"number": "2", "s": "B"},
        {"number": "3", "s": "a"},
    ]));
    query("ORDERBYs").sort(&mut rows);
    assert_eq!(numbers(&rows), ["2", "3", "1"]);
}

#[test]
fn orderby_puts_empties_first_ascending_and_last_descending() {
    let mut rows = numbered(json!([
        {"number": "x", "s": "m"},
        {"number": "missing"},
        {"number": "null", "s": null},
        {"number": "blank", "s": ""},
        {"number": "y", "s": "a"},
    ]));
    query("ORDERBYs").sort(&mut rows);
    assert_eq!(numbers(&rows), ["missing", "null", "blank", "y", "x"]);
    query("ORDERBYDESCs").sort(&mut rows);
    assert_eq!(numbers(&rows), ["x", "y", "missing", "null", "blank"]);
}

#[test]
fn orderby_puts_numbers_before_text() {
    let mut rows = numbered(json!([
        {"number": "word", "v": "1a"},
        {"number": "ten", "v": "10"},
        {"number": "two", "v": "2"},
    ]));
    query("ORDERBYv").sort(&mut rows);
    assert_eq!(numbers(&rows), ["two", "ten", "word"]);
}

#[test]
fn orderby_ties_fall_to_the_next_term() {
    let mut rows = numbered(json!([
        {"number": "1", "state": "2", "priority": "1"},
        {"number": "2", "state": "1", "priority": "3"},
        {"number": "3", "state": "2", "priority": "4"},
        {"number": "4", "state": "1", "priority": "2"},
    ]));
    query("ORDERBYstate^ORDERBYDESCpriority").sort(&mut rows);
    assert_eq!(numbers(&rows), ["2", "4", "3", "1"]);
    query("ORDERBYDESCstate^ORDERBYpriority").sort(&mut rows);
    assert_eq!(numbers(&rows), ["1", "3", "4", "2"]);
}

#[test]
fn sort_is_stable_among_ties() {
    let mut rows = numbered(json!([
        {"number": "1", "g": "b"},
        {"number": "2", "g": "a"},
        {"number": "3", "g": "b"},
        {"number": "4", "g": "a"},
    ]));
    query("ORDERBYg").sort(&mut rows);
    assert_eq!(numbers(&rows), ["2", "4", "1", "3"]);
}

#[test]
fn compare_without_orderby_is_equal_and_sort_keeps_order() {
    let a = record(json!({"number": "2"}));
    let b = record(json!({"number": "1"}));
    let q = query("number>0");
    assert_eq!(q.compare(&a, &b), Ordering::Equal);
    let mut rows = vec![a, b];
    q.sort(&mut rows);
    assert_eq!(numbers(&rows), ["2", "1"]);
}

#[test]
fn compare_follows_the_terms() {
    let a = record(json!({"n": "1"}));
    let b = record(json!({"n": "2"}));
    assert_eq!(query("ORDERBYn").compare(&a, &b), Ordering::Less);
    assert_eq!(query("ORDERBYDESCn").compare(&a, &b), Ordering::Greater);
    assert_eq!(query("ORDERBYm").compare(&a, &b), Ordering::Equal);
}

#[test]
fn select_filters_then_sorts() {
    let rows = numbered(json!([
        {"number": "INC3", "active": true, "priority": 2},
        {"number": "INC1", "active": false, "priority": 1},
        {"number": "INC2", "active": true, "priority": 1},
    ]));
    let selected = query("active=true^ORDERBYpriority").select(rows, &ctx());
    assert_eq!(numbers(&selected), ["INC2", "INC3"]);
}

// --- introspection and serde ---

#[test]
fn fields_lists_conditions_sameas_targets_and_orderby() {
    let q = query("a=1^ORb=2^NQcSAMEASd^eNSAMEASf^ORDERBYg^ORDERBYDESCh");
    let expected: BTreeSet<String> = ["a", "b", "c", "d", "e", "f", "g", "h"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(q.fields(), expected);
    assert!(query("").fields().is_empty());
}

#[test]
fn text_is_the_original() {
    let text = "a=1^ORb=2^ORDERBYc^EQ";
    assert_eq!(query(text).text(), text);
    assert_eq!(query(text).to_string(), text);
}

#[test]
fn serde_round_trips_as_text() {
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Holder {
        condition: Query,
    }
    let holder = Holder {
        condition: query("state=1^ORDERBYnumber"),
    };
    let json = serde_json::to_string(&holder).expect("serializes");
    assert_eq!(json, r#"{"condition":"state=1^ORDERBYnumber"}"#);
    let back: Holder = serde_json::from_str(&json).expect("deserializes");
    assert_eq!(back, holder);
}

#[test]
fn deserializing_a_malformed_query_reports_the_parse_fault() {
    let err = serde_json::from_str::<Query>(r#""a=1^^b=2""#).expect_err("must not parse");
    assert!(
        err.to_string()
            .contains("malformed query at position 4: empty condition"),
        "{err}"
    );
}

// --- malformed queries ---

#[test]
fn error_display_names_position_and_fault() {
    let err = Query::parse("state").expect_err("no operator");
    assert_eq!(
        err.to_string(),
        "malformed query at position 5: missing operator after field 'state'"
    );
}

#[test]
fn missing_or_unknown_operators_are_reported_where_the_operator_should_start() {
    assert_eq!(
        fault("state"),
        (5, "missing operator after field 'state'".into())
    );
    assert_eq!(
        fault("a=1^state"),
        (9, "missing operator after field 'state'".into())
    );
    assert_eq!(fault("stateFOO1"), (5, "unknown operator 'FOO1'".into()));
    assert_eq!(fault("state~1"), (5, "unknown operator '~1'".into()));
    assert_eq!(
        fault("a=1^state = 1"),
        (9, "unknown operator ' = 1'".into())
    );
    assert_eq!(
        fault("a=1^EQ^b=2"),
        (6, "missing operator after field 'EQ'".into())
    );
    assert_eq!(
        fault("sys_created_onONToday@javascript:gs.beginningOfToday()"),
        (14, "unknown operator 'ONToday@javascript:gs.be...'".into())
    );
}

#[test]
fn servicenow_operators_the_core_cannot_evaluate_are_refused_by_name() {
    assert_eq!(
        fault("categoryINSTANCEOFx"),
        (8, "unsupported operator 'INSTANCEOF'".into())
    );
    assert_eq!(
        fault("stateVALCHANGES"),
        (5, "unsupported operator 'VALCHANGES'".into())
    );
}

#[test]
fn empty_or_invalid_field_names_are_errors() {
    assert_eq!(fault("=1"), (0, "empty field name".into()));
    assert_eq!(fault("a=1^LIKEx"), (4, "empty field name".into()));
    assert_eq!(fault("a=1^ x=1"), (4, "empty field name".into()));
    assert_eq!(fault("1a=2"), (0, "invalid field name '1a'".into()));
}

#[test]
fn empty_conditions_are_errors() {
    assert_eq!(fault("a=1^^b=2"), (4, "empty condition".into()));
    assert_eq!(fault("a=1^"), (4, "empty condition".into()));
    assert_eq!(fault("^a=1"), (0, "empty condition".into()));
}

#[test]
fn dangling_or_is_an_error() {
    assert_eq!(fault("ORa=1"), (0, "OR with no condition before it".into()));
    assert_eq!(
        fault("^ORa=1"),
        (1, "OR with no condition before it".into())
    );
    assert_eq!(
        fault("a=1^ORDERBYb^ORc=1"),
        (13, "OR with no condition before it".into())
    );
    assert_eq!(
        fault("a=1^NQORb=2"),
        (6, "OR with no condition before it".into())
    );
    assert_eq!(fault("a=1^OR"), (6, "OR followed by no condition".into()));
    assert_eq!(
        fault("a=1^OR^b=2"),
        (6, "OR followed by no condition".into())
    );
}

#[test]
fn nq_needs_conditions_on_both_sides() {
    assert_eq!(fault("a=1^NQ"), (6, "NQ followed by no condition".into()));
    assert_eq!(
        fault("a=1^NQORDERBYb"),
        (6, "NQ followed by no condition".into())
    );
    assert_eq!(
        fault("NQa=1"),
        (0, "query group before NQ has no conditions".into())
    );
    assert_eq!(
        fault("ORDERBYa^NQb=1"),
        (9, "query group before NQ has no conditions".into())
    );
}

#[test]
fn between_needs_exactly_one_at_sign() {
    assert_eq!(
        fault("nBETWEEN5"),
        (
            8,
            "BETWEEN needs two bounds separated by one '@', found '5'".into()
        )
    );
    assert_eq!(
        fault("nBETWEEN1@2@3"),
        (
            8,
            "BETWEEN needs two bounds separated by one '@', found '1@2@3'".into()
        )
    );
}

#[test]
fn no_value_operators_refuse_a_value() {
    assert_eq!(
        fault("fISEMPTYx"),
        (8, "ISEMPTY takes no value, found 'x'".into())
    );
    assert_eq!(
        fault("fISNOTEMPTY "),
        (11, "ISNOTEMPTY takes no value, found ' '".into())
    );
    assert_eq!(
        fault("fANYTHING1"),
        (9, "ANYTHING takes no value, found '1'".into())
    );
    assert_eq!(
        fault("fEMPTYSTRINGx"),
        (12, "EMPTYSTRING takes no value, found 'x'".into())
    );
}

#[test]
fn sameas_needs_a_field_name() {
    assert_eq!(
        fault("aSAMEAS"),
        (7, "SAMEAS needs a field name, found ''".into())
    );
    assert_eq!(
        fault("aNSAMEASb c"),
        (8, "NSAMEAS needs a field name, found 'b c'".into())
    );
}

#[test]
fn orderby_needs_a_valid_field_name() {
    assert_eq!(fault("ORDERBY"), (7, "ORDERBY needs a field name".into()));
    assert_eq!(
        fault("a=1^ORDERBYDESC"),
        (15, "ORDERBYDESC needs a field name".into())
    );
    assert_eq!(
        fault("a=1^ORDERBY1x"),
        (11, "invalid field name '1x' in ORDERBY".into())
    );
    assert_eq!(
        fault("ORDERBYDESCa b"),
        (11, "invalid field name 'a b' in ORDERBYDESC".into())
    );
}

#[test]
fn unsupported_dynamic_values_are_errors() {
    let only = "(only javascript:gs.getUserName() and javascript:gs.getUserID() are supported)";
    assert_eq!(
        fault("due<javascript:gs.nowDateTime()"),
        (
            4,
            format!("unsupported dynamic value 'javascript:gs.nowDateTim...' {only}")
        )
    );
    assert_eq!(
        fault("aINx,javascript:1"),
        (
            5,
            format!("unsupported dynamic value 'javascript:1' {only}")
        )
    );
    assert_eq!(
        fault("aBETWEEN1@javascript:2"),
        (
            10,
            format!("unsupported dynamic value 'javascript:2' {only}")
        )
    );
}

#[test]
fn positions_are_byte_offsets_past_multibyte_text() {
    assert_eq!(fault("city=Zürich^^a=1"), (13, "empty condition".into()));
}

#[test]
fn odd_inputs_give_a_result_or_a_positioned_error() {
    let inputs = [
        "^",
        "^^",
        "^OR",
        "^NQ",
        "OR",
        "NQ",
        "ORDERBY^",
        "a",
        "a^",
        "a=",
        "a!",
        "a<",
        "a>=",
        "é=1",
        "aé=1",
        "a=é^ORb=ü",
        "aNOT",
        "aNOT ",
        "aNOT LIKE",
        "aBETWEEN@",
        "aIN,,,",
        "a.b=1",
        "_=1",
        "a=1^EQ^EQ",
        "javascript:",
        "a=javascript:",
        "\u{0}=1",
        "a=1^NQb=2^NQ",
    ];
    let r = record(json!({"a": "1", "b": ""}));
    for text in inputs {
        match Query::parse(text) {
            Ok(q) => {
                q.matches(&r, &ctx());
                assert_eq!(q.text(), text);
            }
            Err(e) => assert!(e.position <= text.len(), "{text:?}: {e}"),
        }
    }
}

#[test]
fn dynamic_values_resolve_per_between_bound() {
    let text = "opened_byBETWEENjavascript:gs.getUserName()@c";
    assert!(hits(text, json!({"opened_by": "beth.anglin"})));
    assert!(hits(text, json!({"opened_by": "bz"})));
    assert!(!hits(text, json!({"opened_by": "a"})));
}

#[test]
fn narrowing_takes_plain_equalities_that_only_a_string_field_meets() {
    let narrowing = |q: &str| Query::parse(q).unwrap().narrowing(&ctx());
    let pairs = |p: &[(&str, &[&str])]| -> Vec<(String, Vec<String>)> {
        p.iter()
            .map(|(f, t)| (f.to_string(), t.iter().map(|t| t.to_string()).collect()))
            .collect()
    };
    assert_eq!(
        narrowing("state=assigned^assigned_toINjavascript:gs.getUserID(),x^ORDERBYnumber"),
        pairs(&[
            ("state", &["assigned"]),
            ("assigned_to", &[ctx().user_sys_id.as_str(), "x"])
        ])
    );
    // Ones a number, boolean, null, object or a missing field could meet are left to the
    // evaluator, as are ORs, several groups and every other operator.
    for q in [
        "priority=2",
        "active=true",
        "x=null",
        "x={}",
        "stateINassigned,1.5",
        "state=",
        "state=assigned^ORstate=accepted",
        "state=assigned^NQstate=accepted",
        "state!=assigned",
        "stateLIKEassig",
        "",
    ] {
        assert_eq!(narrowing(q), [], "{q}");
    }
}

/// Records whose values are awkward for a translation to SQL: numbers and booleans beside
/// their texts, null, `""`, objects, quotes.
fn awkward_records() -> Vec<Value> {
    vec![
        json!({"state": "assigned", "priority": 2, "active": true, "n": "2"}),
        json!({"state": "2", "priority": "2", "active": "true"}),
        json!({"state": null, "priority": 2.0}),
        json!({"state": "", "tag": "\"q\""}),
        json!({"state": {"a": 1}, "tag": "q"}),
    ]
}

#[test]
fn every_match_meets_the_narrowing() {
    let records: Vec<Record> = awkward_records()
        .into_iter()
        .chain([json!({"priority": [2], "state": "assigned", "n": 2})])
        .map(record)
        .collect();
    for q in [
        "state=assigned",
        "state=2",
        "priority=2",
        "priority=2.0",
        "active=true",
        "stateINassigned,2,",
        "state={\"a\":1}",
        "tag=\"q\"",
        "n=2^state=assigned",
        "state=assigned^priority=2^ORpriority=[2]",
    ] {
        let query = Query::parse(q).unwrap();
        let narrowing = query.narrowing(&ctx());
        for r in records.iter().filter(|r| query.matches(r, &ctx())) {
            for (field, texts) in &narrowing {
                let text = r.get(field).and_then(Value::as_str);
                assert!(
                    text.is_some_and(|t| texts.iter().any(|x| x == t)),
                    "{q}: {r:?} matches but not the narrowing on {field}"
                );
            }
        }
    }
}

#[test]
fn field_tests_hold_exactly_for_the_records_the_query_matches() {
    let records: Vec<Record> = awkward_records()
        .into_iter()
        .chain([
            json!({"priority": [2], "state": "accepted", "n": 2}),
            json!({"state": "Assigned", "assigned_to": "beth.anglin"}),
            json!({"assigned_to": "u1", "state": "closed_complete"}),
            json!({}),
        ])
        .map(record)
        .collect();
    let holds = |test: &FieldTest, r: &Record| {
        let equal = r
            .get(&test.field)
            .and_then(Value::as_str)
            .is_some_and(|t| test.texts.iter().any(|x| x == t));
        equal != test.negated
    };
    for q in [
        "",
        "ORDERBYnumber",
        "state=assigned",
        "state!=assigned",
        "stateINassigned,accepted^ORDERBYDESCn",
        "stateNOT INassigned,closed_complete",
        "tag=\"q\"",
        "assigned_to=javascript:gs.getUserID()^state!=closed_complete^state!=cancelled",
        "state=assigned^state=accepted",
    ] {
        let query = Query::parse(q).unwrap();
        let tests = query.field_tests(&ctx()).expect(q);
        for r in &records {
            assert_eq!(
                query.matches(r, &ctx()),
                tests.iter().all(|t| holds(t, r)),
                "{q}: {r:?}"
            );
        }
    }
    // Merged, the tests of two queries hold exactly when both match.
    for (a, b) in [
        ("state=assigned", "state!=closed_complete^state!=accepted"),
        (
            "stateINassigned,accepted",
            "stateINaccepted,2x^state!=accepted",
        ),
        (
            "stateINassigned,Assigned",
            "state=assigned^assigned_to=beth.anglin",
        ),
        ("state!=assigned", "stateNOT INaccepted,assigned^tag=q"),
        ("", "state=assigned^state=accepted"),
    ] {
        let (a, b) = (Query::parse(a).unwrap(), Query::parse(b).unwrap());
        let tests = a.field_tests(&ctx()).unwrap();
        let merged = FieldTest::merge(tests.into_iter().chain(b.field_tests(&ctx()).unwrap()));
        let fields: BTreeSet<&str> = merged.iter().map(|t| t.field.as_str()).collect();
        assert_eq!(fields.len(), merged.len(), "one test per field: {merged:?}");
        for r in &records {
            assert_eq!(
                a.matches(r, &ctx()) && b.matches(r, &ctx()),
                merged.iter().all(|t| holds(t, r)),
                "{a} and {b}: {r:?}"
            );
        }
    }
    // What a number, boolean, null, object or missing field could meet, ORs, several groups
    // and every other operator are no such tests.
    for q in [
        "priority=2",
        "active!=true",
        "stateINassigned,1.5",
        "state=",
        "state!=",
        "x={}",
        "state=assigned^ORstate=accepted",
        "state=assigned^NQstate=accepted",
        "stateLIKEassig",
        "state=assigned^priority<3",
    ] {
        assert_eq!(Query::parse(q).unwrap().field_tests(&ctx()), None, "{q}");
    }
}

#[test]
fn a_text_ordered_as_a_number_holds_only_number_chars() {
    let numeric = [
        "0",
        "-1",
        "+2.5",
        ".5",
        "5.",
        "1e5",
        "1E-5",
        "-2.5e+10",
        "inf",
        "-Infinity",
        "NaN",
        "1e400",
        "007",
    ];
    let words = [
        "WOT0001000",
        "2 ",
        " 2",
        "1,5",
        "0x10",
        "½",
        "١٢",
        "1_000",
        "e",
        "Inf1",
    ];
    for text in numeric.iter().chain(&words) {
        let as_number = text.parse::<f64>().is_ok();
        assert_eq!(as_number, numeric.contains(text), "{text}");
        if as_number {
            assert!(text.chars().all(|c| NUMBER_CHARS.contains(c)), "{text}");
        }
    }
    // Every text of a short alphabet that parses as a number holds only those characters.
    let alphabet: Vec<char> = "0123456789+-.eEinfINFtyaTYA xX,_".chars().collect();
    let mut text = String::new();
    for a in &alphabet {
        for b in &alphabet {
            for c in &alphabet {
                text.clear();
                text.extend([*a, *b, *c]);
                if text.parse::<f64>().is_ok() {
                    assert!(text.chars().all(|c| NUMBER_CHARS.contains(c)), "{text}");
                }
            }
        }
    }
}
