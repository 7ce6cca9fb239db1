//! The backward node of every custom operation of this crate, for any backend `B` under burn's
//! autodiff: an operation gives its forward kernel, what its backward pass keeps, and a backward
//! kernel over `B`'s tensor primitives; [`tracked`] records the node where an input needs a
//! gradient. Nothing here depends on the kernels' backend.

use burn::backend::Backend;
use burn::backend::autodiff::{
    Autodiff,
    checkpoint::{base::Checkpointer, strategy::CheckpointStrategy},
    grads::Gradients,
    ops::{Backward, Ops, OpsKind},
};
use burn::backend::tensor::FloatTensor;

/// A backward kernel: from the kept state, the output's gradient and the operation's parameters,
/// the gradient of each of the `N` inputs for which `want` is set (others may be `None`).
pub(crate) type Kernel<B, S, P, const N: usize> =
    fn(S, FloatTensor<B>, P, [bool; N]) -> [Option<FloatTensor<B>>; N];

/// An operation's node in the autodiff graph: its parameters and backward kernel.
pub(crate) struct Node<B: Backend, S, P, const N: usize> {
    params: P,
    kernel: Kernel<B, S, P, N>,
}

impl<B: Backend, S, P: std::fmt::Debug, const N: usize> std::fmt::Debug for Node<B, S, P, N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("params", &self.params)
            .finish()
    }
}

impl<B, S, P, const N: usize> Backward<B, N> for Node<B, S, P, N>
where
    B: Backend,
    S: Clone + Send + std::fmt::Debug + 'static,
    P: Copy + Send + std::fmt::Debug + 'static,
{
    type State = S;

    fn backward(self, ops: Ops<S, N>, grads: &mut Gradients, _: &mut Checkpointer) {
        let want = ops.parents.each_ref().map(Option::is_some);
        let grad = grads.consume::<B>(&ops.node);
        let out = (self.kernel)(ops.state, grad, self.params, want);
        for (parent, g) in ops.parents.into_iter().zip(out) {
            if let (Some(node), Some(g)) = (parent, g) {
                grads.register::<B>(node.id, g);
            }
        }
    }
}

/// `forward` on the inputs' primitives; where an input needs a gradient, the output's node keeps
/// `keep(inputs, output)` for `kernel`.
pub(crate) fn tracked<B, C, S, P, const N: usize>(
    inputs: [FloatTensor<Autodiff<B, C>>; N],
    params: P,
    forward: impl FnOnce([FloatTensor<B>; N]) -> FloatTensor<B>,
    keep: impl FnOnce([FloatTensor<B>; N], &FloatTensor<B>) -> S,
    kernel: Kernel<B, S, P, N>,
) -> FloatTensor<Autodiff<B, C>>
where
    B: Backend,
    C: CheckpointStrategy,
    S: Clone + Send + std::fmt::Debug + 'static,
    P: Copy + Send + std::fmt::Debug + 'static,
{
    match (Node { params, kernel })
        .prepare::<C>(inputs.each_ref().map(|x| x.node()))
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let kept = inputs.each_ref().map(|x| x.primitive().clone());
            let out = forward(kept.clone());
            prep.finish(keep(kept, &out), out)
        }
        OpsKind::UnTracked(prep) => prep.finish(forward(inputs.map(|x| x.into_primitive()))),
    }
}
