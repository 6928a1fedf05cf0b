"""Stories: story vectors, candidates and shared-neighbour links, grouping a window, and
the one rule by which stories continue."""
