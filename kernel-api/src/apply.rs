//! Field ownership (`metadata.managedFields`) and server-side apply.
//!
//! A field set is kept in upstream's `FieldsV1` JSON form: `{"f:spec":{"f:replicas":{}}}`, list
//! items of associative lists as `k:{"name":"nginx"}` with a `"."` entry for the item itself,
//! atomic values as leaves (`{}`). This is a reasonable subset of structured-merge-diff:
//!
//! - every write records which fields its manager changed (operation `Update`), taking them away
//!   from other managers;
//! - an apply (operation `Apply`) owns exactly the fields of its configuration: fields it
//!   applied before and no longer does are removed (unless someone else owns them), fields another
//!   manager owns with a different value are conflicts (409) unless `force` moves them over.

use serde_json::{json, Map, Value};

use crate::registry::{meta_mut, now_rfc3339};
use crate::status::{Error, Result, StatusCause};

type FieldSet = Map<String, Value>;

/// The key of an associative-list item (`k:{"name":"x"}`), if the item has a merge key.
fn item_key(item: &Value) -> Option<String> {
    let obj = item.as_object()?;
    let keys: &[&[&str]] = &[
        &["name"],
        &["containerPort", "protocol"],
        &["port", "protocol"],
        &["mountPath"],
        &["devicePath"],
        &["type"],
        &["ip"],
        &["topologyKey"],
    ];
    for fields in keys {
        if obj.contains_key(fields[0]) {
            let mut k = Map::new();
            for f in *fields {
                if let Some(v) = obj.get(*f) {
                    k.insert((*f).to_owned(), v.clone());
                }
            }
            return Some(format!("k:{}", Value::Object(k)));
        }
    }
    None
}

fn keyed(items: &[Value]) -> bool {
    !items.is_empty() && items.iter().all(|i| item_key(i).is_some())
}

fn fields_of(value: &Value) -> FieldSet {
    let mut set = FieldSet::new();
    if let Some(obj) = value.as_object() {
        for (k, child) in obj {
            set.insert(format!("f:{k}"), Value::Object(child_fields(child)));
        }
    }
    set
}

fn child_fields(child: &Value) -> FieldSet {
    match child {
        Value::Object(o) if !o.is_empty() => fields_of(child),
        Value::Array(items) if keyed(items) => {
            let mut set = FieldSet::new();
            for item in items {
                let mut node = fields_of(item);
                node.insert(".".into(), json!({}));
                set.insert(item_key(item).unwrap_or_default(), Value::Object(node));
            }
            set
        }
        _ => FieldSet::new(),
    }
}

/// The metadata fields a manager can own; the rest of `metadata` is the system's.
const OWNED_METADATA: [&str; 4] = ["labels", "annotations", "finalizers", "ownerReferences"];

/// Whether a root field can be owned by a manager (not `apiVersion`/`kind`, nor `status` when
/// it is skipped).
fn owned_root_field(key: &str, skip_status: bool) -> bool {
    match key {
        "apiVersion" | "kind" => false,
        "status" => !skip_status,
        _ => true,
    }
}

/// The fields of an object a manager can own (not apiVersion/kind or system metadata).
fn root_fields(obj: &Value, skip_status: bool) -> FieldSet {
    let mut set = FieldSet::new();
    let Some(obj) = obj.as_object() else {
        return set;
    };
    for (k, child) in obj {
        if !owned_root_field(k, skip_status) {
            continue;
        }
        if k == "metadata" {
            let mut meta = FieldSet::new();
            for key in OWNED_METADATA {
                if let Some(v) = child.get(key) {
                    meta.insert(format!("f:{key}"), Value::Object(child_fields(v)));
                }
            }
            if !meta.is_empty() {
                set.insert("f:metadata".into(), Value::Object(meta));
            }
            continue;
        }
        set.insert(format!("f:{k}"), Value::Object(child_fields(child)));
    }
    set
}

/// The owned fields (as [`root_fields`]) whose value differs between `new` and `old`, compared
/// in place: neither object is copied.
fn changed_root_fields(new: &Value, old: &Value, skip_status: bool) -> FieldSet {
    let mut set = FieldSet::new();
    let (Some(n), Some(o)) = (new.as_object(), old.as_object()) else {
        return changed_fields(new, old);
    };
    for (k, v) in n {
        if !owned_root_field(k, skip_status) {
            continue;
        }
        let before = o.get(k);
        if k == "metadata" {
            let mut meta = FieldSet::new();
            for key in OWNED_METADATA {
                if let Some(v) = v.get(key) {
                    changed_field(&mut meta, key, v, before.and_then(|b| b.get(key)));
                }
            }
            if !meta.is_empty() {
                set.insert("f:metadata".into(), Value::Object(meta));
            }
            continue;
        }
        changed_field(&mut set, k, v, before);
    }
    set
}

/// Fields whose value differs between `new` and `old` (added or changed).
fn changed_fields(new: &Value, old: &Value) -> FieldSet {
    let mut set = FieldSet::new();
    let (Some(n), o) = (new.as_object(), old.as_object()) else {
        return set;
    };
    for (k, v) in n {
        changed_field(&mut set, k, v, o.and_then(|o| o.get(k)));
    }
    set
}

/// Adds field `k` (now `v`, `before` earlier) to `set` if its value changed.
fn changed_field(set: &mut FieldSet, k: &str, v: &Value, before: Option<&Value>) {
    if before == Some(v) {
        return;
    }
    let node = match (v, before) {
        (Value::Object(_), Some(b @ Value::Object(_))) => changed_fields(v, b),
        (Value::Array(items), Some(Value::Array(old_items)))
            if keyed(items) && (old_items.is_empty() || keyed(old_items)) =>
        {
            let mut node = FieldSet::new();
            for item in items {
                let key = item_key(item).unwrap_or_default();
                match old_items
                    .iter()
                    .find(|o| item_key(o).as_deref() == Some(key.as_str()))
                {
                    Some(old_item) if old_item == item => {}
                    Some(old_item) => {
                        node.insert(key, Value::Object(changed_fields(item, old_item)));
                    }
                    None => {
                        let mut n = fields_of(item);
                        n.insert(".".into(), json!({}));
                        node.insert(key, Value::Object(n));
                    }
                }
            }
            node
        }
        _ => child_fields(v),
    };
    set.insert(format!("f:{k}"), Value::Object(node));
}

fn leaves(set: &FieldSet, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    for (k, v) in set {
        prefix.push(k.clone());
        match v.as_object() {
            Some(child) if !child.is_empty() => leaves(child, prefix, out),
            _ => out.push(prefix.clone()),
        }
        prefix.pop();
    }
}

fn all_leaves(set: &FieldSet) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    leaves(set, &mut Vec::new(), &mut out);
    out
}

fn contains(set: &FieldSet, path: &[String]) -> bool {
    let mut cur = set;
    for (i, seg) in path.iter().enumerate() {
        match cur.get(seg).and_then(Value::as_object) {
            Some(next) if i + 1 == path.len() => return next.is_empty() || path.last().is_some(),
            Some(next) => cur = next,
            None => return false,
        }
    }
    false
}

fn remove(set: &mut FieldSet, path: &[String]) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    if rest.is_empty() {
        set.remove(first);
        return;
    }
    if let Some(Value::Object(child)) = set.get_mut(first) {
        remove(child, rest);
        if child.is_empty() {
            set.remove(first);
        }
    }
}

fn union(into: &mut FieldSet, other: &FieldSet) {
    for (k, v) in other {
        match (into.get_mut(k), v.as_object()) {
            (Some(Value::Object(existing)), Some(o)) => union(existing, o),
            (None, _) => {
                into.insert(k.clone(), v.clone());
            }
            _ => {}
        }
    }
}

fn value_at<'a>(obj: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut cur = obj;
    for seg in path {
        if seg == "." {
            continue;
        }
        cur = step(cur, seg)?;
    }
    Some(cur)
}

fn step<'a>(cur: &'a Value, seg: &str) -> Option<&'a Value> {
    if let Some(field) = seg.strip_prefix("f:") {
        return cur.get(field);
    }
    if seg.starts_with("k:") {
        return cur
            .as_array()?
            .iter()
            .find(|i| item_key(i).as_deref() == Some(seg));
    }
    None
}

fn remove_value_at(obj: &mut Value, path: &[String]) {
    let path: Vec<&String> = path.iter().collect();
    let (last, parents) = match path.split_last() {
        Some((l, p)) if l.as_str() == "." => match p.split_last() {
            Some((l2, p2)) => (*l2, p2.to_vec()),
            None => return,
        },
        Some((l, p)) => (*l, p.to_vec()),
        None => return,
    };
    let mut cur = obj;
    for seg in parents {
        let next = if let Some(field) = seg.strip_prefix("f:") {
            cur.get_mut(field)
        } else {
            cur.as_array_mut().and_then(|a| {
                a.iter_mut()
                    .find(|i| item_key(i).as_deref() == Some(seg.as_str()))
            })
        };
        match next {
            Some(n) => cur = n,
            None => return,
        }
    }
    if let Some(field) = last.strip_prefix("f:") {
        if let Some(o) = cur.as_object_mut() {
            o.remove(field);
        }
    } else if let Some(a) = cur.as_array_mut() {
        a.retain(|i| item_key(i).as_deref() != Some(last.as_str()));
    }
}

fn path_string(path: &[String]) -> String {
    let mut out = String::new();
    for seg in path {
        if let Some(f) = seg.strip_prefix("f:") {
            out.push('.');
            out.push_str(f);
        } else if let Some(k) = seg.strip_prefix("k:") {
            let kv: Map<String, Value> = serde_json::from_str(k).unwrap_or_default();
            let parts: Vec<String> = kv.iter().map(|(k, v)| format!("{k}={v}")).collect();
            out.push_str(&format!("[{}]", parts.join(",")));
        }
    }
    out
}

fn merge_into(dst: &mut Value, src: &Value) {
    match (dst, src) {
        (Value::Object(d), Value::Object(s)) => {
            for (k, v) in s {
                if v.is_null() {
                    continue;
                }
                match d.get_mut(k) {
                    Some(existing)
                        if (existing.is_object() && v.is_object()) || both_keyed(existing, v) =>
                    {
                        merge_into(existing, v)
                    }
                    _ => {
                        d.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (Value::Array(d), Value::Array(s)) => {
            for item in s {
                let key = item_key(item);
                match d.iter_mut().find(|i| item_key(i) == key) {
                    Some(existing) => merge_into(existing, item),
                    None => d.push(item.clone()),
                }
            }
        }
        (d, s) => *d = s.clone(),
    }
}

fn both_keyed(a: &Value, b: &Value) -> bool {
    match (a.as_array(), b.as_array()) {
        (Some(a), Some(b)) => keyed(b) && (a.is_empty() || keyed(a)),
        _ => false,
    }
}

struct Entry {
    manager: String,
    operation: String,
    subresource: String,
    api_version: String,
    time: String,
    fields: FieldSet,
}

fn entries_of(obj: &Value) -> Vec<Entry> {
    obj["metadata"]["managedFields"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| Entry {
                    manager: e["manager"].as_str().unwrap_or_default().into(),
                    operation: e["operation"].as_str().unwrap_or_default().into(),
                    subresource: e["subresource"].as_str().unwrap_or_default().into(),
                    api_version: e["apiVersion"].as_str().unwrap_or_default().into(),
                    time: e["time"].as_str().unwrap_or_default().into(),
                    fields: e["fieldsV1"].as_object().cloned().unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn store_entries(obj: &mut Value, entries: Vec<Entry>) {
    // Built by moving each entry's field set in (`json!` would copy it).
    let list: Vec<Value> = entries
        .into_iter()
        .filter(|e| !e.fields.is_empty())
        .map(|e| {
            let mut v = Map::new();
            v.insert("manager".into(), Value::String(e.manager));
            v.insert("operation".into(), Value::String(e.operation));
            v.insert("apiVersion".into(), Value::String(e.api_version));
            v.insert("time".into(), Value::String(e.time));
            v.insert("fieldsType".into(), Value::String("FieldsV1".into()));
            v.insert("fieldsV1".into(), Value::Object(e.fields));
            if !e.subresource.is_empty() {
                v.insert("subresource".into(), Value::String(e.subresource));
            }
            Value::Object(v)
        })
        .collect();
    if list.is_empty() {
        meta_mut(obj).remove("managedFields");
    } else {
        meta_mut(obj).insert("managedFields".into(), Value::Array(list));
    }
}

fn upsert<'a>(
    entries: &'a mut Vec<Entry>,
    manager: &str,
    operation: &str,
    subresource: &str,
    api_version: &str,
) -> &'a mut Entry {
    let position = entries.iter().position(|e| {
        e.manager == manager && e.operation == operation && e.subresource == subresource
    });
    let index = match position {
        Some(i) => i,
        None => {
            entries.push(Entry {
                manager: manager.into(),
                operation: operation.into(),
                subresource: subresource.into(),
                api_version: api_version.into(),
                time: String::new(),
                fields: FieldSet::new(),
            });
            entries.len() - 1
        }
    };
    let entry = &mut entries[index];
    entry.time = now_rfc3339();
    entry.api_version = api_version.into();
    entry
}

/// Records a non-apply write by `manager`: it now owns every field it changed (operation
/// `Update`), and other managers lose those fields.
pub fn record_update(
    new: &mut Value,
    old: Option<&Value>,
    manager: &str,
    api_version: &str,
    subresource: Option<&str>,
) {
    let skip_status = subresource.is_none();
    let changed = match old {
        Some(old) => changed_root_fields(new, old, skip_status && old.get("status").is_some()),
        None => root_fields(new, false),
    };
    let mut entries = match old {
        Some(old) => entries_of(old),
        None => Vec::new(),
    };
    if changed.is_empty() {
        store_entries(new, entries);
        return;
    }
    // Fields this manager now sets are no longer owned by the others' Update entries.
    if entries
        .iter()
        .any(|e| e.manager != manager || e.operation != "Update")
    {
        let leaves = all_leaves(&changed);
        for entry in entries.iter_mut() {
            if entry.manager != manager || entry.operation != "Update" {
                for leaf in &leaves {
                    remove(&mut entry.fields, leaf);
                }
            }
        }
    }
    let entry = upsert(
        &mut entries,
        manager,
        "Update",
        subresource.unwrap_or_default(),
        api_version,
    );
    if entry.fields.is_empty() {
        entry.fields = changed;
    } else {
        union(&mut entry.fields, &changed);
    }
    store_entries(new, entries);
}

/// Server-side apply of `applied` by `manager` onto `live` (None: the object does not exist).
/// Returns the merged object with `managedFields` updated, or a 409 with one
/// `FieldManagerConflict` cause per conflicting field.
pub fn apply(
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    api_version: &str,
    force: bool,
    skip_status: bool,
) -> Result<Value> {
    let applied_set = root_fields(applied, skip_status);
    let Some(live) = live else {
        let mut obj = applied.clone();
        let mut entries = Vec::new();
        upsert(&mut entries, manager, "Apply", "", api_version).fields = applied_set;
        store_entries(&mut obj, entries);
        return Ok(obj);
    };
    let mut entries = entries_of(live);
    let applied_leaves = all_leaves(&applied_set);
    let mut conflicts: Vec<(usize, Vec<String>)> = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        if entry.manager == manager && entry.operation == "Apply" {
            continue;
        }
        for leaf in &applied_leaves {
            if leaf.last().is_some_and(|l| l == ".") || !contains(&entry.fields, leaf) {
                continue;
            }
            if value_at(live, leaf) != value_at(applied, leaf) {
                conflicts.push((i, leaf.clone()));
            }
        }
    }
    if !conflicts.is_empty() {
        if !force {
            let causes = conflicts
                .iter()
                .map(|(i, leaf)| {
                    let e = &entries[*i];
                    let field = path_string(leaf);
                    StatusCause::new(
                        "FieldManagerConflict",
                        field.clone(),
                        format!(
                            "conflict with \"{}\" using {}: {field}",
                            e.manager, e.api_version
                        ),
                    )
                })
                .collect();
            return Err(Error::ApplyConflict { causes });
        }
        for (i, leaf) in &conflicts {
            remove(&mut entries[*i].fields, leaf);
        }
    }
    let previous = entries
        .iter()
        .find(|e| e.manager == manager && e.operation == "Apply" && e.subresource.is_empty())
        .map(|e| e.fields.clone())
        .unwrap_or_default();
    let mut merged = live.clone();
    for leaf in all_leaves(&previous) {
        let owned_by_others = entries.iter().any(|e| {
            !(e.manager == manager && e.operation == "Apply") && contains(&e.fields, &leaf)
        });
        if !contains(&applied_set, &leaf) && !owned_by_others {
            remove_value_at(&mut merged, &leaf);
        }
    }
    let mut body = applied.clone();
    if let Some(o) = body.as_object_mut() {
        if skip_status {
            o.remove("status");
        }
        if let Some(meta) = o.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.retain(|k, _| {
                matches!(
                    k.as_str(),
                    "labels" | "annotations" | "finalizers" | "ownerReferences" | "resourceVersion"
                )
            });
        }
    }
    merge_into(&mut merged, &body);
    upsert(&mut entries, manager, "Apply", "", api_version).fields = applied_set;
    store_entries(&mut merged, entries);
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deploy(replicas: i64, image: &str) -> Value {
        json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","labels":{"app":"web"}},
               "spec":{"replicas":replicas,"template":{"spec":{"containers":[{"name":"nginx","image":image}]}}}})
    }

    #[test]
    fn apply_creates_then_conflicts_with_another_manager() {
        let created = apply(None, &deploy(1, "nginx:1"), "alice", "apps/v1", false, true).unwrap();
        let fields = &created["metadata"]["managedFields"][0]["fieldsV1"];
        assert!(
            fields["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"nginx\"}"]
                ["f:image"]
                .is_object()
        );

        // bob changes replicas with an update: he now owns spec.replicas.
        let mut scaled = created.clone();
        scaled["spec"]["replicas"] = json!(3);
        record_update(&mut scaled, Some(&created), "bob", "apps/v1", None);

        // alice re-applies replicas 1: conflict with bob.
        let err = apply(
            Some(&scaled),
            &deploy(1, "nginx:2"),
            "alice",
            "apps/v1",
            false,
            true,
        )
        .unwrap_err();
        let Error::ApplyConflict { causes } = err else {
            panic!("expected conflict")
        };
        assert_eq!(causes[0].field, ".spec.replicas");
        assert!(causes[0].message.contains("\"bob\""));

        // force takes it over.
        let forced = apply(
            Some(&scaled),
            &deploy(1, "nginx:2"),
            "alice",
            "apps/v1",
            true,
            true,
        )
        .unwrap();
        assert_eq!(forced["spec"]["replicas"], 1);
        assert_eq!(
            forced["spec"]["template"]["spec"]["containers"][0]["image"],
            "nginx:2"
        );
    }

    #[test]
    fn apply_removes_fields_no_longer_applied() {
        let mut first = deploy(1, "nginx:1");
        first["metadata"]["labels"]["tier"] = json!("front");
        let live = apply(None, &first, "alice", "apps/v1", false, true).unwrap();
        let next = apply(
            Some(&live),
            &deploy(1, "nginx:1"),
            "alice",
            "apps/v1",
            false,
            true,
        )
        .unwrap();
        assert!(next["metadata"]["labels"].get("tier").is_none());
        assert_eq!(next["metadata"]["labels"]["app"], "web");
    }
}
