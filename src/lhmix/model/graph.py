"""HPT's hierarchy injection (HPT section 4.1; LH-Mix appendix, Table 6): a graph encoder over the
label tree whose depth nodes feed the prompt's depth markers.

Nodes: the |V| labels, whose features are the label words, and one virtual node per depth, whose
features are that depth's marker embedding. Edges, both directions: each label and its parent, and
each depth node and every label of its depth (so a depth node pools its layer); every node also
attends to itself. Each layer is, as in HPT's code, a graph convolution, dropout, a residual
connection and LayerNorm. The depth-node outputs replace the marker embeddings in the input,
computed at every forward pass, so the encoder is trained end to end through them; label scores keep
using the label words themselves, as HPT's code does (its verbalizer reads the raw rows).

LAYERS = 2, where HPT's code runs one (`--layer 1`). With one layer a depth node sees only the label
words of its own depth, so the tree (the label-parent edges) never reaches the markers: two trees
with the same labels per depth give the same markers (tests/test_graph.py). The second layer lets each
depth node pool labels that have already heard their parents and children: the hierarchy the paper
injects. (HPT's code passes messages parent -> child and depth node -> label, PyTorch Geometric's
source-to-target direction, so at one layer its depth tokens receive no message from any label.)

  gat  single-head graph attention (Velickovic et al. 2018): h'_i = sum_j a_ij W h_j + b over
       neighbours j (self included), a_ij = softmax_j LeakyReLU_0.2(u . W h_i + v . W h_j)
  gcn  graph convolution (Kipf and Welling 2017): H' = D^-1/2 (A + I) D^-1/2 H W + b

A dense masked layer is enough for a tree of a few hundred labels (RCV1: 103 + 4 nodes).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from lhmix.data.hierarchy import Hierarchy

LAYERS = 2
LEAKY_SLOPE = 0.2


def hierarchy_adjacency(hierarchy: Hierarchy) -> Tensor:
    """bool [N, N], N = |V| + depth: label-parent and depth node-label edges both ways, self loops."""
    labels, depth = len(hierarchy), hierarchy.depth
    adjacency = torch.eye(labels + depth, dtype=torch.bool)
    for label in hierarchy.labels:
        node = labels + label.depth - 1
        adjacency[label.id, node] = adjacency[node, label.id] = True
        if label.parent is not None:
            adjacency[label.id, label.parent] = adjacency[label.parent, label.id] = True
    return adjacency


class GraphAttention(nn.Module):
    def __init__(self, hidden: int, adjacency: Tensor):
        super().__init__()
        self.linear = nn.Linear(hidden, hidden, bias=False)
        self.attend_self = nn.Parameter(torch.empty(hidden))
        self.attend_neighbour = nn.Parameter(torch.empty(hidden))
        self.bias = nn.Parameter(torch.zeros(hidden))
        self.register_buffer("adjacency", adjacency, persistent=False)

    def weights(self, nodes: Tensor) -> Tensor:
        """[N, N] attention of each node (row) over its neighbours (0 elsewhere)."""
        projected = self.linear(nodes)
        scores = (projected @ self.attend_self)[:, None] + (projected @ self.attend_neighbour)[None, :]
        scores = nn.functional.leaky_relu(scores, LEAKY_SLOPE).masked_fill(~self.adjacency, float("-inf"))
        return torch.softmax(scores, dim=1)

    def forward(self, nodes: Tensor) -> Tensor:
        return self.weights(nodes) @ self.linear(nodes) + self.bias


class GraphConvolution(nn.Module):
    def __init__(self, hidden: int, adjacency: Tensor):
        super().__init__()
        self.linear = nn.Linear(hidden, hidden, bias=False)
        self.bias = nn.Parameter(torch.zeros(hidden))
        scale = adjacency.float().sum(dim=1).rsqrt()
        self.register_buffer("propagation", scale[:, None] * adjacency.float() * scale[None, :], persistent=False)

    def forward(self, nodes: Tensor) -> Tensor:
        return self.propagation @ self.linear(nodes) + self.bias


# model.prompt.graph is checked against vocabulary.GRAPHS in TrainConfig; none injects nothing
GRAPH_LAYERS = {"gat": GraphAttention, "gcn": GraphConvolution}


class GraphLayer(nn.Module):
    """nodes -> LayerNorm(nodes + dropout(graph(nodes))), as a layer of HPT's graph encoder."""

    def __init__(self, graph: str, adjacency: Tensor, hidden: int, dropout: float, initializer_range: float):
        super().__init__()
        self.graph = GRAPH_LAYERS[graph](hidden, adjacency)
        self.dropout = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(hidden)
        with torch.no_grad():  # BERT's initialisation, from the global torch RNG
            for name, parameter in self.graph.named_parameters():
                if name != "bias":
                    nn.init.normal_(parameter, mean=0.0, std=initializer_range)

    def forward(self, nodes: Tensor) -> Tensor:
        return self.norm(nodes + self.dropout(self.graph(nodes)))


class HierarchyInjection(nn.Module):
    """Depth-marker embeddings [D, H] from the label words [|V|, H] and the markers [D, H]."""

    def __init__(self, graph: str, hierarchy: Hierarchy, hidden: int, dropout: float, initializer_range: float,
                 layers: int = LAYERS):
        super().__init__()
        self.kind = graph
        adjacency = hierarchy_adjacency(hierarchy)
        self.layers = nn.ModuleList(GraphLayer(graph, adjacency, hidden, dropout, initializer_range)
                                    for _ in range(layers))
        self.num_labels = len(hierarchy)

    def forward(self, label_words: Tensor, markers: Tensor) -> Tensor:
        nodes = torch.cat([label_words, markers.to(label_words.dtype)])
        for layer in self.layers:
            nodes = layer(nodes)
        return nodes[self.num_labels:]
