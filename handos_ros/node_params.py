"""handos_node's parameter callbacks: validate a change, then apply it as a new Settings snapshot.

- validation (``add_on_set_parameters_callback``, every distro): each value through
  :func:`handos_ros.parameters.validate`; configure-time parameters are refused while the node
  is configured;
- application: a new :class:`~handos_ros.parameters.Settings` from the current values with the
  changed ones on top, handed to ``on_change(old, new, changed)``.

Application runs in ``add_post_set_parameters_callback`` where rclpy has it (Iron and later:
Jazzy, Kilted). Humble's rclpy has only the validating callback, so there the same application
runs at the end of a successful validation, just before rclpy stores the values: the snapshot
never reads the node's not-yet-stored parameters, only the change itself. (On Humble, a change
that another on-set callback rejects after ours would still have been applied: this node
registers no other one.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rcl_interfaces.msg import SetParametersResult
from rclpy.node import Node
from rclpy.parameter import Parameter

from handos_ros.parameters import SPEC_BY_NAME, Settings, validate

OnChange = Callable[[Settings, Settings, list[Parameter]], None]


def has_post_set_callbacks(node: Node) -> bool:
    """True where rclpy can call back after parameters were set (not on Humble)."""
    return callable(getattr(node, "add_post_set_parameters_callback", None))


class ParameterHandler:
    """Owns the node's Settings snapshot and keeps it in step with its parameters.

    Args:
        node: the node whose parameters were declared with :func:`handos_ros.parameters.declare_all`.
        initial: the snapshot ``declare_all`` returned.
        configured: returns True while configure-time parameters must not change.
        on_change: called as ``on_change(old, new, changed)`` after each accepted change.
    """

    def __init__(self, node: Node, initial: Settings, configured: Callable[[], bool], on_change: OnChange) -> None:
        self._node = node
        self._configured = configured
        self._on_change = on_change
        self.settings = initial
        self.post_set = has_post_set_callbacks(node)
        node.add_on_set_parameters_callback(self._validate)
        if self.post_set:
            node.add_post_set_parameters_callback(self._apply)

    def _validate(self, params: list[Parameter]) -> SetParametersResult:
        """Validate; configure-time parameters only change while unconfigured."""
        for p in params:
            spec = SPEC_BY_NAME.get(p.name)
            if spec is None:
                continue
            reason = validate(p.name, p.value)
            if reason is not None:
                return SetParametersResult(successful=False, reason=reason)
            if not spec.dynamic and self._configured():
                return SetParametersResult(
                    successful=False,
                    reason=f"{p.name} is read at configure: change it while unconfigured (lifecycle cleanup first)",
                )
        if not self.post_set:  # Humble: apply now (see the module docstring)
            self._apply(params)
        return SetParametersResult(successful=True)

    def _apply(self, params: list[Parameter]) -> None:
        values: dict[str, Any] = {name: self._node.get_parameter(name).value for name in SPEC_BY_NAME}
        values.update({p.name: p.value for p in params if p.name in SPEC_BY_NAME})
        old, self.settings = self.settings, Settings.from_values(values)
        self._on_change(old, self.settings, [p for p in params if p.name in SPEC_BY_NAME])
