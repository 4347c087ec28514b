"""Analysis of an encoding: projections, clustering, layer choice, decoding and neighbours."""
