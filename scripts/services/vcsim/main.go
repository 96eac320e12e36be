// A vCenter simulator for Butler's tests: govmomi's vcsim (Debian's
// golang-github-vmware-govmomi-dev) with an inventory Butler can provision
// into. Built and started by scripts/services/vcsim.sh; it serves vim25
// SOAP at https://127.0.0.1:PORT/sdk with the certificate it is given.
//
// The model: one datacenter, CLUSTERS clusters of HOSTS hosts each, VMS
// VMs per cluster, one distributed port group beside "VM Network", one
// datastore; a standard port group "C0-lonely" on one host of the first
// cluster only, with that cluster's VM "DC0_C0_RP0_VM1" on it; per cluster one VM powered off, its disk grown to 20 GiB,
// renamed and marked a template ("tmpl-<cluster>-linux"), and the custom fields Butler writes ("Project",
// "CostCenter") defined on VMs.
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"log"
	"net/url"
	"os"
	"os/signal"
	"syscall"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8989", "address to serve on")
	cert := flag.String("cert", "", "PEM certificate (chain) to serve")
	key := flag.String("key", "", "PEM private key of -cert")
	clusters := flag.Int("clusters", 2, "clusters")
	hosts := flag.Int("hosts", 2, "hosts per cluster")
	vms := flag.Int("vms", 3, "VMs per cluster (one becomes a template)")
	user := flag.String("user", "butler@vsphere.local", "the one user")
	password := flag.String("password", "", "its password")
	flag.Parse()

	model := simulator.VPX()
	model.Datacenter = 1
	model.Cluster = *clusters
	model.ClusterHost = *hosts
	model.Host = 0
	model.Machine = *vms
	model.Portgroup = 1
	model.Datastore = 1
	if err := model.Create(); err != nil {
		log.Fatal(err)
	}
	defer model.Remove()

	pair, err := tls.LoadX509KeyPair(*cert, *key)
	if err != nil {
		log.Fatalf("certificate: %v", err)
	}
	model.Service.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	model.Service.Listen = &url.URL{Host: *listen, User: url.UserPassword(*user, *password)}
	server := model.Service.NewServer()
	defer server.Close()

	if err := prepare(server.URL); err != nil {
		log.Fatalf("preparing the inventory: %v", err)
	}
	fmt.Printf("vcsim serving %s\n", server.URL.Host)

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
}

// prepare makes one template per cluster and defines the custom fields.
func prepare(u *url.URL) error {
	ctx := context.Background()
	c, err := govmomi.NewClient(ctx, u, true)
	if err != nil {
		return err
	}
	defer c.Logout(ctx)
	finder := find.NewFinder(c.Client, true)
	dc, err := finder.DefaultDatacenter(ctx)
	if err != nil {
		return err
	}
	finder.SetDatacenter(dc)
	clusters, err := finder.ClusterComputeResourceList(ctx, "*")
	if err != nil {
		return err
	}
	for _, cl := range clusters {
		vms, err := finder.VirtualMachineList(ctx, cl.Name()+"_RP0_VM0")
		if err != nil || len(vms) == 0 {
			continue
		}
		vm := vms[0]
		off, err := vm.PowerOff(ctx)
		if err != nil {
			return err
		}
		if err := off.Wait(ctx); err != nil {
			return err
		}
		// A template's disk of 20 GiB, as an operating system image has.
		devices, err := vm.Device(ctx)
		if err != nil {
			return err
		}
		for _, d := range devices.SelectByType((*types.VirtualDisk)(nil)) {
			disk := d.(*types.VirtualDisk)
			disk.CapacityInKB = 20 * 1024 * 1024
			disk.CapacityInBytes = disk.CapacityInKB * 1024
			if err := vm.EditDevice(ctx, disk); err != nil {
				return err
			}
		}
		task, err := vm.Rename(ctx, "tmpl-"+cl.Name()+"-linux")
		if err != nil {
			return err
		}
		if err := task.Wait(ctx); err != nil {
			return err
		}
		if err := vm.MarkAsTemplate(ctx); err != nil {
			return err
		}
	}
	if err := lonelyPortGroup(ctx, finder); err != nil {
		return err
	}
	fields, err := object.GetCustomFieldsManager(c.Client)
	if err != nil {
		return err
	}
	for _, name := range []string{"Project", "CostCenter"} {
		if _, err := fields.Add(ctx, name, "VirtualMachine", nil, nil); err != nil {
			return err
		}
	}
	return nil
}

// lonelyPortGroup adds a standard port group, "C0-lonely", to one host of
// the first cluster only (vcsim lists it on no cluster), and moves the NIC
// of that cluster's VM "DC0_C0_RP0_VM1" onto it: a VM whose network the
// other cluster lacks, which vCenter would not relocate there.
func lonelyPortGroup(ctx context.Context, finder *find.Finder) error {
	hosts, err := finder.HostSystemList(ctx, "DC0_C0/*")
	if err != nil || len(hosts) == 0 {
		return fmt.Errorf("no host in DC0_C0: %v", err)
	}
	ns, err := hosts[0].ConfigManager().NetworkSystem(ctx)
	if err != nil {
		return err
	}
	spec := types.HostPortGroupSpec{Name: "C0-lonely", VlanId: 31, VswitchName: "vSwitch0"}
	if err := ns.AddPortGroup(ctx, spec); err != nil {
		return err
	}
	vm, err := finder.VirtualMachine(ctx, "DC0_C0_RP0_VM1")
	if err != nil {
		return err
	}
	devices, err := vm.Device(ctx)
	if err != nil {
		return err
	}
	nics := devices.SelectByType((*types.VirtualEthernetCard)(nil))
	if err := vm.RemoveDevice(ctx, false, nics...); err != nil {
		return err
	}
	backing := &types.VirtualEthernetCardNetworkBackingInfo{
		VirtualDeviceDeviceBackingInfo: types.VirtualDeviceDeviceBackingInfo{DeviceName: "C0-lonely"},
	}
	nic, err := devices.CreateEthernetCard("vmxnet3", backing)
	if err != nil {
		return err
	}
	return vm.AddDevice(ctx, nic)
}
