"""Gradients, written out once for each Keras backend.

One step of gradient descent is the same on every backend:

    loss = L(w);   g = dL/dw;   w <- optimizer(w, g)

Keras's ``fit`` does it inside its ``train_step``; chapters 2 and 5 write it out to show it.
What differs is how each framework finds g:

- TensorFlow records the forward pass on a ``GradientTape`` and plays it backwards.
- JAX differentiates a *pure function* of the weights (``jax.value_and_grad``). Keras layers
  read their weights from variables, so the step maps every variable to a value
  (``keras.StatelessScope``) and gets the new values back to assign.
- PyTorch records as it computes; ``loss.backward()`` leaves dL/dw in each weight's ``.grad``.

This is the one place in the course that branches on the backend for training; the functions
are short so that they can be read side by side.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras


def make_gradient_step(
    loss_fn: Callable, model: keras.Layer, optimizer: keras.optimizers.Optimizer,
    compiled: bool = True,
) -> Callable:
    """``step(*inputs) -> loss``: one gradient step of ``optimizer`` on ``loss_fn(*inputs)``.

    ``loss_fn`` computes the loss from ``inputs`` by calling ``model`` (or its parts); the step
    moves ``model.trainable_variables``. Any other variable it reads must belong to ``model``
    (non-trainable weights such as a DQN's target network, or a dropout layer's seed).
    ``compiled`` builds one graph (TensorFlow's ``tf.function``, ``jax.jit``); PyTorch's step
    always runs op by op.
    """
    if not optimizer.built:
        optimizer.build(model.trainable_variables)
    steps = {
        "tensorflow": tensorflow_gradient_step,
        "jax": jax_gradient_step,
        "torch": torch_gradient_step,
    }
    return steps[keras.backend.backend()](loss_fn, model, optimizer, compiled)


def tensorflow_gradient_step(loss_fn, model, optimizer, compiled):
    """TensorFlow: a tape records the forward pass; ``tape.gradient`` plays it backwards."""
    import tensorflow as tf

    variables = model.trainable_variables

    def step(*inputs):
        with tf.GradientTape() as tape:  # records every operation on a watched variable
            loss = loss_fn(*inputs)
        gradients = tape.gradient(loss, variables)  # ... and walks them back from the loss
        optimizer.apply(gradients, variables)
        return loss

    return tf.function(step, reduce_retracing=True) if compiled else step


def jax_gradient_step(loss_fn, model, optimizer, compiled):
    """JAX: ``jax.value_and_grad`` of the loss as a pure function of the weights' values."""
    import jax

    trainable, others = model.trainable_variables, model.non_trainable_variables

    def loss_of(trainable_values, other_values, inputs):
        """L as a pure function of the weights' values: what jax.value_and_grad needs."""
        mapping = [*zip(trainable, trainable_values, strict=True),
                   *zip(others, other_values, strict=True)]
        with keras.StatelessScope(state_mapping=mapping) as scope:
            loss = loss_fn(*inputs)
        # A dropout layer advances its seed variable: hand its new value out, too.
        return loss, [scope.get_current_value(variable) for variable in others]

    def pure_step(trainable_values, other_values, optimizer_values, inputs):
        (loss, other_values), gradients = jax.value_and_grad(loss_of, has_aux=True)(
            trainable_values, other_values, inputs
        )
        trainable_values, optimizer_values = optimizer.stateless_apply(
            optimizer_values, gradients, trainable_values
        )
        return loss, trainable_values, other_values, optimizer_values

    pure_step = jax.jit(pure_step) if compiled else pure_step

    def step(*inputs):
        loss, *new_values = pure_step(
            [v.value for v in trainable], [v.value for v in others],
            [v.value for v in optimizer.variables], inputs,
        )
        for variables, values in zip(
            (trainable, others, optimizer.variables), new_values, strict=True
        ):
            for variable, value in zip(variables, values, strict=True):
                variable.assign(value)
        return loss

    return step


def torch_gradient_step(loss_fn, model, optimizer, compiled):
    """PyTorch: the graph is recorded as the loss is computed; ``backward()`` walks it."""
    import torch

    variables = model.trainable_variables

    def step(*inputs):
        loss = loss_fn(*inputs)  # PyTorch records the graph while it computes
        model.zero_grad()  # .grad accumulates: clear the last step's
        loss.backward()  # dL/dw into each weight's .grad
        with torch.no_grad():  # the update itself is not part of any gradient
            optimizer.apply([variable.value.grad for variable in variables], variables)
        return loss.detach()  # keep no graph alive in whoever stores the loss

    return step


def value_and_gradients(fn: Callable, variables: Sequence[keras.Variable], has_aux=False):
    """``(fn(), [dfn/dv for v in variables])`` as numpy, on any backend; for demonstrations.

    ``fn`` takes no argument and returns a scalar computed from ``variables``; with
    ``has_aux`` it returns ``(scalar, extra)``, and ``extra`` (as numpy) comes third.
    """
    variables = list(variables)
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            result = fn()
        value = result[0] if has_aux else result
        gradients = tape.gradient(value, variables)
    elif backend == "jax":
        import jax

        def pure(values):
            with keras.StatelessScope(state_mapping=list(zip(variables, values, strict=True))):
                return fn()

        result, gradients = jax.value_and_grad(pure, has_aux=has_aux)(
            [variable.value for variable in variables]
        )
    else:
        import torch

        result = fn()
        value = result[0] if has_aux else result
        gradients = torch.autograd.grad(value, [variable.value for variable in variables])
    to_numpy = keras.ops.convert_to_numpy
    gradients = [to_numpy(gradient) for gradient in gradients]
    if has_aux:
        return to_numpy(result[0]), gradients, to_numpy(result[1])
    return to_numpy(result), gradients
