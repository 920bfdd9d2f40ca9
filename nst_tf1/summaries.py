"""TensorBoard: the graph and the costs of every iteration, as the TF1 summary API writes them.

TensorBoard's graph tab shows the name scopes the pipeline builds, which read like the
algorithm::

    vgg19/input, vgg19/conv1_1, ..., vgg19/avgpool5   the network around the input Variable
    content_cost                                      J_content at the content layer
    style_cost/conv1_1, ..., style_cost/J_style       each layer's J_style^[l], their weighted sum
    total_cost                                        J = alpha J_content + beta J_style
    optimizer                                         Adam's gradients and update of the input
    lbfgs                                             dJ/dG for L-BFGS (instead of optimizer)
    assign_content, assign_style, assign_generated    the ops that put C, S and G into the input
    summaries                                         the scalar summaries below, merged

The scalar summaries are tagged after the scope of the cost they record:

    total_cost/J, content_cost/J_content, style_cost/J_style,
    style_cost/<layer> (the unweighted J_style^[l] of each style layer)

The summaries are merged into one op, fetched in the same ``sess.run`` as the train step
(:func:`nst_tf1.optimize.model_nn`) or as each L-BFGS evaluation's costs and gradient
(:func:`nst_tf1.optimize.model_lbfgs`; step = the evaluation's number, and the best image
again at the last step), and written with ``tf.compat.v1.summary.FileWriter``.
View them with ``tensorboard --logdir DIR``.
"""

from __future__ import annotations

import time
from typing import Any

__all__ = ["TAGS", "layer_tag", "cost_summaries", "graph_def_for_tensorboard", "open_writer"]

#: Tags of the scalar summaries of J, J_content and J_style.
TAGS = {"J": "total_cost/J", "J_content": "content_cost/J_content", "J_style": "style_cost/J_style"}

# Constants larger than this many bytes (the VGG kernels) are written without their values.
_MAX_CONST_BYTES = 1024


def layer_tag(layer: str) -> str:
    """Tag of the scalar summary of one style layer's unweighted J_style^[l]."""
    return f"style_cost/{layer}"


def cost_summaries(J: Any, J_content: Any, J_style: Any, layer_costs: dict[str, Any]) -> Any:
    """Scalar summaries of the costs, merged into one op under the name scope ``summaries``.

    Args:
        J, J_content, J_style: the scalar cost tensors.
        layer_costs: dict style layer name -> its unweighted J_style^[l] scalar tensor
            (from ``compute_style_cost(..., return_layer_costs=True)``).

    Returns:
        string tensor: the serialised ``Summary`` of every cost; fetch it with the train step
        or the L-BFGS evaluation.
    """
    import tensorflow.compat.v1 as tf

    tagged = [(TAGS["J"], J), (TAGS["J_content"], J_content), (TAGS["J_style"], J_style)]
    tagged += [(layer_tag(layer), tensor) for layer, tensor in layer_costs.items()]
    with tf.name_scope("summaries"):
        # The ScalarSummary op takes its tag as given (tf.summary.scalar would derive it
        # from the op's name scope).
        summaries = [tf.raw_ops.ScalarSummary(tags=tag, values=tensor) for tag, tensor in tagged]
        return tf.summary.merge(summaries)


def graph_def_for_tensorboard(graph: Any) -> Any:
    """The graph's GraphDef with every op's output shapes and without the large constants.

    The VGG kernels are constants (80 MB at full width); the graph tab needs their shapes,
    not their values, so tensors above 1 KiB keep their dtype and shape and lose their
    contents. The event file stays small; the graph it holds is for viewing, not running.

    Args:
        graph: a ``tf.Graph``.

    Returns:
        GraphDef protocol buffer.
    """
    graph_def = graph.as_graph_def(add_shapes=True)
    for node in graph_def.node:
        if node.op != "Const":
            continue
        tensor = node.attr["value"].tensor
        if tensor.ByteSize() > _MAX_CONST_BYTES:
            dtype, shape = tensor.dtype, type(tensor.tensor_shape)()
            shape.CopyFrom(tensor.tensor_shape)
            tensor.Clear()
            tensor.dtype = dtype
            tensor.tensor_shape.CopyFrom(shape)
    return graph_def


def open_writer(logdir: str, graph: Any) -> Any:
    """A ``tf.compat.v1.summary.FileWriter`` on ``logdir`` holding ``graph`` (see above).

    Call it once the whole graph is built, so the graph tab shows every op.

    Args:
        logdir: directory of the event file (created if needed).
        graph: the ``tf.Graph`` to show.

    Returns:
        FileWriter: add summaries with ``add_summary(value, iteration)``; close it at the end.
    """
    import tensorflow.compat.v1 as tf

    writer = tf.summary.FileWriter(logdir)
    # What FileWriter.add_graph writes, with the GraphDef above instead of the full one.
    graph_def = graph_def_for_tensorboard(graph).SerializeToString()
    writer.add_event(tf.Event(wall_time=time.time(), graph_def=graph_def))
    writer.flush()
    return writer
