"""What the built-in workflows (fly, refuel, review) are made of.

The plugins in :mod:`maverick_core.builtin` (``agents``, ``validation``, ``try``,
``devflow``, ``providers``, ``commands``) register these lazily, so starting the CLI
imports none of this until a command needs it:

- :mod:`.agents`: the ``agent`` step type, the ``command`` backend, roles, prompt templates;
- :mod:`.validation`: the ``validate`` step type;
- :mod:`.trystep`: the ``try`` step type (record a failure, go on);
- :mod:`.gitops`: git through argument lists; :mod:`.tasks`: the tasks file;
- :mod:`.providers`: issue and pull-request providers (``github``, ``local``);
- :mod:`.actions`: the python actions the workflows call;
- :mod:`.commands`: ``maverick fly``, ``refuel`` and ``review``.
"""
