"""Responsible for running planned runbooks: `runner` runs a plan (many runs at once), `workflow`
is the list of steps of one run, and one module per step does the work (`execute`, `collect`,
`seal`), with `kernels` and `kernel_template` for the kernel each run gets.

Nothing here is imported by the plan, the evidence store or the site: the flow only goes down.
"""
