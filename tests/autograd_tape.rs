//! The tape: recording, backward, accumulation, retain_grad, no_grad, detach, freeing.

mod common;

use common::uniform;
use shortcut::autograd::Tape;
use shortcut::ops::Conv2dParams;
use shortcut::{no_grad, Device, Tensor};

fn t(v: Vec<f32>, shape: &[usize]) -> Tensor {
    Tensor::from_vec(v, shape.to_vec(), Device::Cpu).unwrap()
}

#[test]
fn backward_of_a_small_expression_gives_hand_computed_gradients() {
    // L = Σ (a·b + a)², a = [1, 2], b = [3, −1]
    // ∂L/∂a = 2(ab + a)(b + 1) = [2·4·4, 2·0·0] = [32, 0]; ∂L/∂b = 2(ab + a)·a = [8, 0]
    let a = t(vec![1.0, 2.0], &[2]).requires_grad_(true).unwrap();
    let b = t(vec![3.0, -1.0], &[2]).requires_grad_(true).unwrap();
    let l = a
        .mul(&b)
        .unwrap()
        .add(&a)
        .unwrap()
        .sqr()
        .unwrap()
        .sum_all()
        .unwrap();
    assert_eq!(l.to_scalar().unwrap(), 16.0);
    l.backward().unwrap();
    assert_eq!(a.grad().unwrap().to_vec().unwrap(), vec![32.0, 0.0]);
    assert_eq!(b.grad().unwrap().to_vec().unwrap(), vec![8.0, 0.0]);
}

#[test]
fn tape_lists_the_recorded_ops_in_order_with_shapes_and_flags() {
    let w = uniform(&[4, 3, 3, 3], -1.0, 1.0, 1)
        .requires_grad_(true)
        .unwrap();
    w.set_name("conv.weight");
    let x = uniform(&[2, 3, 5, 5], 0.0, 1.0, 2);
    let y = x
        .conv2d(&w, None, Conv2dParams::new(1, 1))
        .unwrap()
        .relu()
        .unwrap();
    let loss = y.mean_all().unwrap();
    let tape = Tape::of(&loss).unwrap();
    let ops: Vec<&str> = tape.entries.iter().map(|e| e.op).collect();
    assert_eq!(ops, vec!["conv2d", "relu", "reshape", "sum", "mul_scalar"]);
    let conv = &tape.entries[0];
    assert_eq!(conv.inputs[0].0, "const");
    assert!(!conv.inputs[0].2);
    assert_eq!(conv.inputs[1].0, "conv.weight");
    assert!(conv.inputs[1].2);
    assert_eq!(conv.output_shape.dims(), &[2, 4, 5, 5]);
    assert_eq!(tape.entries[1].inputs[0].0, "%0");
    let text = tape.to_string();
    assert!(
        text.contains("conv2d") && text.contains("conv.weight[4, 3, 3, 3]*"),
        "{text}"
    );
}

#[test]
fn nothing_is_recorded_without_gradients_or_under_no_grad() {
    let x = uniform(&[3], 0.0, 1.0, 1);
    assert!(x.exp().unwrap().is_leaf());
    let w = uniform(&[3], 0.0, 1.0, 2).requires_grad_(true).unwrap();
    let y = no_grad(|| w.exp().unwrap());
    assert!(y.is_leaf() && !y.requires_grad());
    assert!(y.backward().is_err());
}

#[test]
fn gradients_accumulate_across_backward_calls_until_zero_grad() {
    let w = t(vec![1.0, 2.0], &[2]).requires_grad_(true).unwrap();
    for _ in 0..3 {
        w.mul_scalar(2.0)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
    }
    assert_eq!(w.grad().unwrap().to_vec().unwrap(), vec![6.0, 6.0]);
    w.zero_grad();
    assert!(w.grad().is_none());
}

#[test]
fn a_tensor_used_twice_receives_the_sum_of_both_paths() {
    // L = Σ x·x + x  →  ∂L/∂x = 2x + 1
    let x = t(vec![1.0, -3.0], &[2]).requires_grad_(true).unwrap();
    x.mul(&x)
        .unwrap()
        .add(&x)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    assert_eq!(x.grad().unwrap().to_vec().unwrap(), vec![3.0, -5.0]);
}

#[test]
fn intermediate_gradients_are_kept_only_when_asked() {
    let x = t(vec![1.0, 2.0, 3.0], &[3]).requires_grad_(true).unwrap();
    let h = x.mul_scalar(2.0).unwrap();
    let h2 = h.add_scalar(1.0).unwrap();
    h.retain_grad();
    h2.sqr().unwrap().sum_all().unwrap().backward().unwrap();
    // ∂L/∂h = 2(h + 1) = [6, 10, 14]
    assert_eq!(h.grad().unwrap().to_vec().unwrap(), vec![6.0, 10.0, 14.0]);
    assert!(h2.grad().is_none());
    assert_eq!(x.grad().unwrap().to_vec().unwrap(), vec![12.0, 20.0, 28.0]);
}

#[test]
fn detach_cuts_the_graph() {
    let x = t(vec![2.0], &[1]).requires_grad_(true).unwrap();
    let y = x.mul(&x.detach()).unwrap(); // ∂y/∂x = detached x only
    y.sum_all().unwrap().backward().unwrap();
    assert_eq!(x.grad().unwrap().to_vec().unwrap(), vec![2.0]);
}

#[test]
fn inputs_receive_gradients_for_attacks_and_feature_visualisation() {
    let x = uniform(&[1, 3, 6, 6], 0.0, 1.0, 3)
        .requires_grad_(true)
        .unwrap();
    let w = uniform(&[2, 3, 3, 3], -1.0, 1.0, 4);
    let y = x
        .conv2d(&w, None, Conv2dParams::new(1, 1))
        .unwrap()
        .sum_all()
        .unwrap();
    y.backward().unwrap();
    let g = x.grad().unwrap();
    assert_eq!(g.dims(), &[1, 3, 6, 6]);
    assert!(g.to_vec().unwrap().iter().any(|v| *v != 0.0));
}

#[test]
fn backward_frees_the_graph_unless_retained() {
    let x = t(vec![1.0], &[1]).requires_grad_(true).unwrap();
    let y = x.exp().unwrap().sum_all().unwrap();
    y.backward_retain_graph().unwrap();
    y.backward().unwrap();
    let e = std::f32::consts::E;
    assert!((x.grad().unwrap().to_scalar().unwrap() - 2.0 * e).abs() < 1e-5);
    let err = y.backward().unwrap_err().to_string();
    assert!(err.contains("already freed"), "{err}");
}

#[test]
fn backward_needs_a_scalar_and_says_so() {
    let x = t(vec![1.0, 2.0], &[2]).requires_grad_(true).unwrap();
    let err = x.exp().unwrap().backward().unwrap_err().to_string();
    assert!(err.contains("one-element"), "{err}");
}

#[test]
fn optimizer_updates_do_not_change_what_a_live_graph_saw() {
    // Copy-on-write: the recorded graph keeps the weights used in forward.
    let w = t(vec![3.0], &[1]).requires_grad_(true).unwrap();
    let x = t(vec![2.0], &[1]).requires_grad_(true).unwrap();
    let y = x.mul(&w).unwrap().sum_all().unwrap();
    w.update_storage(|s| {
        s.cpu_mut()?[0] = 100.0;
        Ok(())
    })
    .unwrap();
    y.backward().unwrap();
    assert_eq!(x.grad().unwrap().to_vec().unwrap(), vec![3.0]);
    assert_eq!(w.to_vec().unwrap(), vec![100.0]);
}

#[test]
fn shape_and_device_errors_are_values_not_panics() {
    let a = uniform(&[2, 3], 0.0, 1.0, 1);
    let b = uniform(&[4, 5], 0.0, 1.0, 2);
    assert!(a
        .matmul(&b)
        .unwrap_err()
        .to_string()
        .contains("inner dimensions"));
    assert!(a
        .add(&b)
        .unwrap_err()
        .to_string()
        .contains("do not broadcast"));
    assert!(a.reshape([7]).is_err());
    assert!(a
        .cross_entropy(&[0, 5])
        .unwrap_err()
        .to_string()
        .contains("out of range"));
    assert!(Tensor::from_vec(vec![1.0; 5], [2, 3], Device::Cpu).is_err());
    assert!(a.index_select(&[9]).is_err());
    assert!(a.permute(&[0, 0]).is_err());
}

#[test]
fn reductions_over_everything_and_over_an_axis() {
    let x = t(vec![1.0, 7.0, 3.0, 7.0, -2.0, 0.5], &[2, 3]);
    assert_eq!(x.sum_all().unwrap().to_scalar().unwrap(), 16.5);
    assert_eq!(x.mean_all().unwrap().to_scalar().unwrap(), 2.75);
    assert_eq!(x.max_all().unwrap().to_scalar().unwrap(), 7.0);
    // first maximum wins ties
    assert_eq!(x.argmax_all().unwrap().to_scalar().unwrap(), 1.0);
    assert_eq!(x.argmax(1).unwrap().to_vec().unwrap(), vec![1.0, 0.0]);
    assert_eq!(x.argmax(0).unwrap().to_vec().unwrap(), vec![1.0, 0.0, 0.0]);
    assert_eq!(
        x.sum(0, false).unwrap().to_vec().unwrap(),
        vec![8.0, 5.0, 3.5]
    );
    assert_eq!(x.max(-1, true).unwrap().dims(), &[2, 1]);
}
