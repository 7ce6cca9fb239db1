//! What the custom Flex operations share: whether a tensor can take them and access to a Flex
//! tensor's `f32` buffer.

use burn::backend::DispatchDevice;
use burn::backend::flex::FlexTensor;
use burn::tensor::{DType, Shape, Tensor, TensorData};

/// Whether the Flex kernels can take these tensors: all on a Flex device (with or without
/// autodiff) and all `f32`.
pub(crate) fn applies<const D: usize>(tensors: &[&Tensor<D>]) -> bool {
    tensors.iter().all(|t| {
        matches!(
            t.device().as_dispatch().clone().inner(),
            DispatchDevice::Flex(_)
        ) && t.dtype() == DType::F32
    })
}

/// How many parts of `len` values one parallel task takes: about 16 Ki values, so that small
/// planes (a 7×7 map is 49 values) are not tasks of their own.
pub(crate) fn min_parts(len: usize) -> usize {
    (16 * 1024 / len.max(1)).max(1)
}

/// A contiguous `f32` view of a tensor: the tensor itself, or a contiguous copy.
pub(crate) fn contiguous(x: FlexTensor) -> FlexTensor {
    if x.as_slice::<f32>().is_some() {
        x
    } else {
        x.to_contiguous()
    }
}

/// The values of a tensor made [`contiguous`].
pub(crate) fn values(x: &FlexTensor) -> &[f32] {
    x.as_slice::<f32>()
        .expect("an f32 tensor made contiguous (checked by `applies`)")
}

/// A Flex tensor owning `values`.
pub(crate) fn tensor(values: Vec<f32>, shape: Shape) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}
