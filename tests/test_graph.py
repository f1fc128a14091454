"""HPT's hierarchy injection on a hand-made 5-label tree: adjacency, GCN and GAT by hand, and the
depth markers fed to the encoder."""
import pytest
import torch

from lhmix.core.errors import ParamError
from lhmix.data.hierarchy import Hierarchy
from lhmix.model.classifier import HTCModel
from lhmix.model.encoders import load_tokenizer
from lhmix.model.graph import GraphAttention, GraphConvolution, HierarchyInjection, hierarchy_adjacency
from lhmix.model.inputs import build_inputs
from lhmix.training.config import TrainConfig

# ids: a=0, b=1, a/x=2, a/y=3, b/z=4; depth nodes: 5 (depth 1), 6 (depth 2)
TREE, _ = Hierarchy.from_paths([("a", "x"), ("a", "y"), ("b", "z")])


def test_adjacency_by_hand():
    expected = {(0, 2), (0, 3), (1, 4),          # label - parent
                (0, 5), (1, 5), (2, 6), (3, 6), (4, 6)}  # depth node - its labels
    adjacency = hierarchy_adjacency(TREE)
    assert adjacency.shape == (7, 7)
    assert torch.equal(adjacency, adjacency.T)
    assert adjacency.diagonal().all()
    edges = {(i, j) for i, j in adjacency.nonzero().tolist() if i < j}
    assert edges == expected


def test_gcn_is_the_normalised_propagation():
    adjacency = hierarchy_adjacency(TREE)
    layer = GraphConvolution(3, adjacency)
    nodes = torch.randn(7, 3, generator=torch.Generator().manual_seed(0))
    degree = adjacency.sum(dim=1).float()  # e.g. node 0: itself, 2, 3, 5 -> 4
    assert degree.tolist() == [4, 3, 3, 3, 3, 3, 4]
    expected = torch.zeros(7, 3)
    projected = layer.linear(nodes)
    for i, j in adjacency.nonzero().tolist():
        expected[i] += projected[j] / (degree[i] * degree[j]).sqrt()
    assert torch.allclose(layer(nodes), expected + layer.bias, atol=1e-6)


def test_gat_attends_to_neighbours_only():
    adjacency = hierarchy_adjacency(TREE)
    layer = GraphAttention(3, adjacency)
    torch.nn.init.normal_(layer.attend_self)
    torch.nn.init.normal_(layer.attend_neighbour)
    nodes = torch.randn(7, 3, generator=torch.Generator().manual_seed(1))
    weights = layer.weights(nodes)
    assert torch.allclose(weights.sum(dim=1), torch.ones(7))
    assert (weights[~adjacency] == 0).all()
    # node 2 (a/x) sees itself, its parent a (0) and its depth node (6); by hand:
    with torch.no_grad():
        projected = layer.linear(nodes)
        scores = torch.stack([projected[2] @ layer.attend_self + projected[j] @ layer.attend_neighbour
                              for j in (0, 2, 6)])
    assert torch.allclose(weights[2, [0, 2, 6]], torch.softmax(torch.nn.functional.leaky_relu(scores, 0.2), 0))
    changed = nodes.clone()
    changed[4] += 10  # b/z is no neighbour of a/x
    assert torch.allclose(layer(changed)[2], layer(nodes)[2])


def test_injection_gives_one_marker_per_depth_and_trains_the_label_words():
    torch.manual_seed(0)
    injection = HierarchyInjection("gat", TREE, 8, dropout=0.0, initializer_range=0.02)
    words = torch.randn(5, 8, requires_grad=True)
    markers = injection(words, torch.randn(2, 8))
    assert markers.shape == (2, 8)
    markers.sum().backward()
    assert words.grad[[0, 1]].abs().sum() > 0  # depth 1's labels reach depth node 1


def test_an_unknown_graph_fails_at_configuration():
    with pytest.raises(ParamError, match="'model.prompt.graph' = 'gin': expected one of none, gat, gcn"):
        TrainConfig(family="prompt", mixing="none", seed=0, graph="gin")


@pytest.mark.parametrize("graph", ["gat", "gcn"])
def test_the_tree_reaches_the_markers_from_the_second_layer_on(graph):
    """Two trees with the same labels per depth but other parents: x and y under a in TREE, under b
    here. One layer pools each depth's label words alone (GAT: equal markers); two let the parents in."""
    other, _ = Hierarchy.from_paths([("a", "z"), ("b", "x"), ("b", "y")])
    assert [label.name for label in other.labels] == ["a", "b", "z", "x", "y"]
    words = torch.randn(5, 8, generator=torch.Generator().manual_seed(2))
    markers = torch.randn(2, 8, generator=torch.Generator().manual_seed(3))
    # the same label features in both trees: other's ids hold TREE's words of the same names
    other_words = words[[0, 1, 4, 2, 3]]

    def injected(tree, features, layers):
        torch.manual_seed(0)
        return HierarchyInjection(graph, tree, 8, dropout=0.0, initializer_range=0.5, layers=layers).eval()(
            features, markers)

    if graph == "gat":  # GCN's normalisation sees degrees even at one layer
        assert torch.allclose(injected(TREE, words, 1), injected(other, other_words, 1), atol=1e-6)
    assert not torch.allclose(injected(TREE, words, 2), injected(other, other_words, 2), atol=1e-3)


@pytest.mark.parametrize("graph", ["gat", "gcn"])
def test_model_feeds_the_graphs_markers_to_the_encoder(graph):
    tokenizer = load_tokenizer("tiny-random")
    torch.manual_seed(0)
    model = HTCModel.create("prompt", "tiny-random", TREE, tokenizer, graph=graph).eval()
    ids = torch.tensor(build_inputs(tokenizer, ["some words here"], "prompt", 2, 16))
    mask = torch.ones_like(ids)
    seen = {}
    handle = model.encoder.embeddings.register_forward_pre_hook(
        lambda module, args, kwargs: seen.update(kwargs), with_kwargs=True)
    with torch.no_grad():
        model(ids, mask)
    handle.remove()
    words = model.encoder.get_input_embeddings()
    markers = model.injection(model.label_words, words.weight[model.marker_ids])
    embeds = seen["inputs_embeds"]
    assert torch.allclose(embeds[0, [1, 3]], markers)
    assert torch.allclose(embeds[0, 0], words.weight[ids[0, 0]])
    loss = model(ids, mask).sum()
    model.train()
    model(ids, mask).sum().backward()
    assert model.injection.layers[0].graph.linear.weight.grad.abs().sum() > 0
    assert torch.isfinite(loss)
    with pytest.raises(ParamError, match="model.bert"):
        HTCModel.create("bert", "tiny-random", TREE, tokenizer, graph=graph)
