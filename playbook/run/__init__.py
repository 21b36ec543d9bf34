"""The runner: executes a campaign's notebooks and publishes its report (``playbook run``).

* :mod:`~playbook.run.campaign` — :func:`~playbook.run.campaign.run_campaign` and
  :func:`~playbook.run.campaign.run_campaigns`, the entry points;
* :mod:`~playbook.run.graph` — the five steps, their dependencies, ``--only`` and ``--jobs``;
* :mod:`~playbook.run.schedule` — runs the steps of one campaign, dependencies first;
* :mod:`~playbook.run.parameters` — the parameters a notebook declares;
* :mod:`~playbook.run.execute` — one notebook in its own kernel, and how it failed;
* :mod:`~playbook.run.guard` — the PII guard every run applies before publishing;
* :mod:`~playbook.run.publish` — staging, the publishing lock, the atomic swap, failed runs;
* :mod:`~playbook.run.results` — step and campaign outcomes, the batch table, the exit code.
"""
