//! Which declarations use which, and the order they are printed in: dependencies first, and the
//! cycles (Tarjan's algorithm), both deterministic.

use std::collections::{BTreeMap, BTreeSet};

use super::{Body, Shape, Ty};

fn ty_refs(ty: &Ty, out: &mut BTreeSet<String>) {
    match ty {
        Ty::Named(n) => {
            out.insert(n.clone());
        }
        Ty::Option(t) | Ty::List(t) | Ty::Dict(t) => ty_refs(t, out),
        Ty::Tuple(ts) => ts.iter().for_each(|t| ty_refs(t, out)),
        _ => {}
    }
}

pub(crate) fn body_refs(body: &Body, out: &mut BTreeSet<String>) {
    match body {
        Body::Record(fields) => fields.iter().for_each(|f| ty_refs(&f.ty, out)),
        Body::Newtype(t) => ty_refs(t, out),
        Body::Tuple(ts) => ts.iter().for_each(|t| ty_refs(t, out)),
        Body::Unit => {}
        Body::Enum { variants, .. } => {
            for v in variants {
                match &v.shape {
                    Shape::Unit => {}
                    Shape::Newtype(t) => ty_refs(t, out),
                    Shape::Tuple(ts) => ts.iter().for_each(|t| ty_refs(t, out)),
                    Shape::Record(fields) => fields.iter().for_each(|f| ty_refs(&f.ty, out)),
                }
            }
        }
    }
}

/// Types in dependency order (a type after those it uses; cycles together), and the cycles
/// (strongly connected components, Tarjan's algorithm), both deterministic.
pub(super) fn order(uses: &BTreeMap<String, BTreeSet<String>>) -> (Vec<String>, Vec<Vec<String>>) {
    struct Tarjan<'a> {
        uses: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        components: Vec<Vec<String>>,
    }
    impl<'a> Tarjan<'a> {
        fn visit(&mut self, v: &'a str) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in self.uses.get(v).into_iter().flatten() {
                let w = w.as_str();
                if !self.uses.contains_key(w) {
                    continue;
                }
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.on_stack.contains(w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    component.push(w.to_owned());
                    if w == v {
                        break;
                    }
                }
                component.sort();
                self.components.push(component);
            }
        }
    }
    let mut t = Tarjan {
        uses,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        components: Vec::new(),
    };
    for v in uses.keys() {
        if !t.index.contains_key(v.as_str()) {
            t.visit(v);
        }
    }
    // Tarjan emits components dependencies-first.
    let order = t.components.iter().flatten().cloned().collect();
    (order, t.components)
}
