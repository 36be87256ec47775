"""The book: the chapter declaration (``chapters``), the one run context (``run_context``)
and the chapter setup on it (``context``), the papermill pipeline (``pipeline``), the intro's
"at a glance" (``glance``), publishing (``publish``) and the browser check (``browser_check``,
its rules in ``page_rules``)."""
