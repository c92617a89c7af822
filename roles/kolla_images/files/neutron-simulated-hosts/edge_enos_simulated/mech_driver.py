"""Simulation: binds the ports of simulated compute hosts, which run no L2 agent.

edge.enos can run N extra nova-compute services (fake virt driver) per compute node, each with
its own `host`, to simulate hundreds of computes on one machine. Their ports cannot be bound by
the Open vSwitch mechanism driver, which needs a live agent on the port's host. This driver binds
a port whose host matches `[ml2_enos_simulated] host_regex` the way the OVS driver would
(vif_type ovs), and leaves every other host to the real drivers listed before it.
"""

import re

from neutron_lib.api.definitions import portbindings
from neutron_lib.plugins.ml2 import api
from oslo_config import cfg
from oslo_log import log

LOG = log.getLogger(__name__)

cfg.CONF.register_opts(
    [cfg.StrOpt("host_regex", default=r"-sim[0-9]+$",
                help="Hosts whose ports this driver binds: the simulated compute hosts.")],
    "ml2_enos_simulated")


class SimulatedHostMechanismDriver(api.MechanismDriver):
    """Bind ports on simulated hosts; never claim a real host."""

    def initialize(self):
        self._hosts = re.compile(cfg.CONF.ml2_enos_simulated.host_regex)
        LOG.info("binding ports of simulated hosts matching %s", self._hosts.pattern)

    def bind_port(self, context):
        if not context.host or not self._hosts.search(context.host):
            return
        for segment in context.segments_to_bind:
            context.set_binding(segment[api.ID], portbindings.VIF_TYPE_OVS,
                                {portbindings.CAP_PORT_FILTER: True,
                                 portbindings.OVS_HYBRID_PLUG: False},
                                status="ACTIVE")
            LOG.debug("port %s bound on simulated host %s", context.current["id"], context.host)
            return
