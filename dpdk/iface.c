/* SPDX-License-Identifier: BSD-3-Clause */
/* Interface facts for the engine: see iface.h. */
#include <dirent.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>

#include "iface.h"

static int ethtool(int fd, const char *iface, void *cmd)
{
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", iface);
	ifr.ifr_data = cmd;
	return ioctl(fd, SIOCETHTOOL, &ifr) < 0 ? -errno : 0;
}

/* rx-N entries under /sys/class/net/IF/queues: the real queue count, where sysfs belongs to
 * the caller's namespace (not always: ip netns exec remounts it, unshare does not). */
static unsigned sysfs_rx_queues(const char *iface)
{
	char path[128];
	snprintf(path, sizeof(path), "/sys/class/net/%s/queues", iface);
	DIR *d = opendir(path);
	if (!d)
		return 0;
	unsigned n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		n += strncmp(de->d_name, "rx-", 3) == 0;
	closedir(d);
	return n;
}

int iface_probe(const char *iface, struct iface_probe *p)
{
	memset(p, 0, sizeof(*p));
	if (!iface || !*iface || strlen(iface) >= IF_NAMESIZE)
		return -EINVAL;
	if (!if_nametoindex(iface))
		return -ENODEV;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	struct ethtool_drvinfo di = {.cmd = ETHTOOL_GDRVINFO};
	if (ethtool(fd, iface, &di) == 0) {
		snprintf(p->driver, sizeof(p->driver), "%s", di.driver);
		/* Software interfaces report no bus address. */
		p->has_device = di.bus_info[0] != '\0' && strcmp(di.bus_info, "N/A") != 0 &&
		                strcmp(di.bus_info, "tun") != 0;
	}
	struct ethtool_channels ch = {.cmd = ETHTOOL_GCHANNELS};
	if (ethtool(fd, iface, &ch) == 0) {
		p->rx_queues = ch.rx_count + ch.combined_count;
		p->max_rx_queues = ch.max_rx + ch.max_combined;
	}
	close(fd);
	if (!p->rx_queues)
		p->rx_queues = sysfs_rx_queues(iface);
	if (!p->rx_queues)
		p->rx_queues = 1;
	if (p->max_rx_queues < p->rx_queues)
		p->max_rx_queues = p->rx_queues;
	static const char *const local[] = {"veth", "tun", "netkit"};
	for (size_t i = 0; i < sizeof(local) / sizeof(local[0]); i++)
		if (!strcmp(p->driver, local[i]))
			p->local_partial_csum = true;
	return 0;
}
