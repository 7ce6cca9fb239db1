//! Helpers shared by genzoo's integration tests.

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::Tensor;

struct Collect(Vec<f32>);

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let v = param
            .val()
            .into_data()
            .try_to_vec::<f32>()
            .expect("f32 parameters");
        self.0.extend(v);
    }
}

/// Every float parameter of a module, in visiting order.
pub fn flat_parameters<M: Module>(module: &M) -> Vec<f32> {
    let mut c = Collect(Vec::new());
    module.visit(&mut c);
    c.0
}
