"""The engine: metadata in, tasks run, in the order of the data flow.

parse -> datastore -> evaluate (configuration, recipes, classes) -> cache -> providers -> taskgraph ->
signatures -> runqueue (tasks, sstate, events, reporters). It knows nothing about packages or images:
the artifact side reaches it only through the builtin table and the task context
(:mod:`layerbuild.taskapi`).
"""
