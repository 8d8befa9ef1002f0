// SPDX-License-Identifier: GPL-2.0
/*
 * gup_stall: a small VMM for the KVM cells, x86 only. One VM with one
 * vCPU and no in-kernel irqchip (so no async page faults: a fault that
 * waits, waits in the vCPU thread), slot 0 of plain memory with the
 * guest's code, and the memory under test as GS_VM_MEM_SLOT.
 *
 * The guest is a few instructions in 32-bit protected mode without
 * paging, set up through KVM_SET_SREGS alone (no GDT, no firmware):
 * guest addresses are guest-physical addresses. It copies ECX dwords
 * from ESI to EDI, reports what is left of ECX on an I/O port and halts.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "../kselftest.h"
#include "gup_stall.h"
#include "gup_stall_kmsg.h"

/*
 * 32-bit code, entered with ESI = source, EDI = destination, ECX = dword
 * count, interrupts off.
 */
static const unsigned char gs_guest_code[] = {
	0xfc,			/* cld: copy upwards */
	0xf3, 0xa5,		/* rep movsd: ECX dwords from [ESI] to [EDI] */
	0x89, 0xc8,		/* mov eax, ecx: what is left, 0 when done */
	0xe7, GS_VM_REPORT_PORT,	/* out GS_VM_REPORT_PORT, eax: report it */
	0xf4,			/* hlt */
	0xeb, 0xfd,		/* jmp back to hlt, should it ever resume */
};

/*
 * Why /dev/kvm cannot be opened: what the kernel said when KVM failed to
 * come up (e.g. "kvm: RT requires X86_FEATURE_CONSTANT_TSC"), else which
 * piece is missing.
 */
static const char *gs_kvm_missing_why(char *why, size_t len, int err)
{
	char msg[256];

	if (gs_kmsg_last_error("kvm", msg, sizeof(msg)))
		snprintf(why, len, "no usable /dev/kvm (%s); kernel log: %s",
			 strerror(err), msg);
	else if (access("/sys/module/kvm", F_OK))
		snprintf(why, len,
			 "no usable /dev/kvm (%s): the kvm module is not loaded (CONFIG_KVM, then CONFIG_KVM_AMD or CONFIG_KVM_INTEL and modprobe)",
			 strerror(err));
	else if (access("/sys/module/kvm_amd", F_OK) &&
		 access("/sys/module/kvm_intel", F_OK))
		snprintf(why, len,
			 "no usable /dev/kvm (%s): kvm is loaded but neither kvm_amd nor kvm_intel (CONFIG_KVM_AMD or CONFIG_KVM_INTEL, and SVM or VMX in the CPU)",
			 strerror(err));
	else
		snprintf(why, len, "no usable /dev/kvm (%s)", strerror(err));
	return why;
}

const char *gs_need_kvm(void)
{
	static char why[400];
	int fd, v;

	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return gs_kvm_missing_why(why, sizeof(why), errno);
	v = ioctl(fd, KVM_GET_API_VERSION, 0);
	close(fd);
	/*
	 * Only VMX and SVM map guest memory with hva_to_pfn() on a fault;
	 * other KVM flavours (kvm_pvm) emulate the guest's accesses with
	 * uaccess, which is not what the cells check.
	 */
	if (access("/sys/module/kvm_amd", F_OK) &&
	    access("/sys/module/kvm_intel", F_OK)) {
		snprintf(why, sizeof(why),
			 "/dev/kvm is not kvm_amd or kvm_intel (no /sys/module/kvm_amd or kvm_intel); scripts/vmtest.sh provides kvm_amd");
		return why;
	}
	if (v != KVM_API_VERSION) {
		snprintf(why, sizeof(why),
			 "/dev/kvm answers KVM_GET_API_VERSION with %d, want %d",
			 v, KVM_API_VERSION);
		return why;
	}
	return NULL;
}

int gs_vm_set_slot(struct gs_vm *vm, __u32 slot, __u64 gpa, void *hva,
		   __u64 size, __u32 flags)
{
	struct kvm_userspace_memory_region mr = {
		.slot = slot,
		.flags = flags,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (unsigned long)hva,
	};

	return ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &mr);
}

/* Flat 4 GiB segments, as if loaded from a GDT with these selectors. */
static void gs_flat_segment(struct kvm_segment *s, __u16 sel, __u8 type)
{
	memset(s, 0, sizeof(*s));
	s->base = 0;
	s->limit = 0xffffffff;
	s->selector = sel;
	s->type = type;
	s->present = 1;
	s->db = 1;
	s->s = 1;
	s->g = 1;
}

static void gs_vm_init_sregs(struct gs_vm *vm)
{
	struct kvm_sregs sregs;

	if (ioctl(vm->vcpu, KVM_GET_SREGS, &sregs))
		gs_fail("KVM_GET_SREGS: %s", strerror(errno));
	gs_flat_segment(&sregs.cs, 0x08, 0xb);	/* code, execute/read */
	gs_flat_segment(&sregs.ds, 0x10, 0x3);	/* data, read/write */
	sregs.es = sregs.ds;
	sregs.ss = sregs.ds;
	sregs.fs = sregs.ds;
	sregs.gs = sregs.ds;
	sregs.cr0 = 0x11;			/* PE, ET; paging off */
	sregs.cr4 = 0;
	sregs.efer = 0;
	if (ioctl(vm->vcpu, KVM_SET_SREGS, &sregs))
		gs_fail("KVM_SET_SREGS: %s", strerror(errno));
}

/*
 * A VM with one vCPU and slot 0; no in-kernel irqchip, so no async page
 * faults: a fault that waits, waits in the vCPU thread.
 */
void gs_vm_create(struct gs_vm *vm)
{
	const char *why = gs_need_kvm();
	int n;

	if (why)
		gs_skip("%s", why);
	memset(vm, 0, sizeof(*vm));
	vm->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	vm->fd = ioctl(vm->kvm, KVM_CREATE_VM, 0);
	if (vm->fd < 0)
		gs_fail("KVM_CREATE_VM: %s", strerror(errno));
	vm->low = mmap(NULL, GS_VM_LOW_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vm->low == MAP_FAILED)
		gs_fail("mmap of guest memory: %s", strerror(errno));
	memcpy(vm->low + GS_VM_CODE_GPA, gs_guest_code, sizeof(gs_guest_code));
	if (gs_vm_set_slot(vm, GS_VM_LOW_SLOT, 0, vm->low, GS_VM_LOW_SIZE, 0))
		gs_fail("KVM_SET_USER_MEMORY_REGION slot 0: %s",
			strerror(errno));
	vm->vcpu = ioctl(vm->fd, KVM_CREATE_VCPU, 0);
	if (vm->vcpu < 0)
		gs_fail("KVM_CREATE_VCPU: %s", strerror(errno));
	n = ioctl(vm->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (n < (int)sizeof(struct kvm_run))
		gs_fail("KVM_GET_VCPU_MMAP_SIZE: %d (%s)", n, strerror(errno));
	vm->run_size = n;
	vm->run = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED, vm->vcpu,
		       0);
	if (vm->run == MAP_FAILED)
		gs_fail("mmap of kvm_run: %s", strerror(errno));
	gs_vm_init_sregs(vm);
}

/* Put the memory under test into the guest at GS_VM_MEM_GPA. */
void gs_vm_add_region(struct gs_vm *vm, struct gs_region *r)
{
	vm->r = r;
	if (gs_vm_set_slot(vm, GS_VM_MEM_SLOT, GS_VM_MEM_GPA, r->map, r->map_len, 0))
		gs_fail("KVM_SET_USER_MEMORY_REGION of %s (%zu bytes): %s",
			r->b->name, r->map_len, strerror(errno));
}

void gs_vm_destroy(struct gs_vm *vm)
{
	munmap(vm->run, vm->run_size);
	close(vm->vcpu);
	close(vm->fd);
	close(vm->kvm);
	munmap(vm->low, GS_VM_LOW_SIZE);
}

/* Point the vCPU at the copy loop: len bytes from src to dst. */
void gs_vm_set_copy(struct gs_vm *vm, __u64 src, __u64 dst, size_t len)
{
	struct kvm_regs regs = {
		.rip = GS_VM_CODE_GPA,
		.rflags = 0x2,		/* IF clear: no async page faults */
		.rsi = src,
		.rdi = dst,
		.rcx = len / 4,
	};

	if (ioctl(vm->vcpu, KVM_SET_REGS, &regs))
		gs_fail("KVM_SET_REGS: %s", strerror(errno));
}

void gs_vm_run_job(struct gs_job *j)
{
	j->ret = ioctl(((struct gs_vm *)j->ctx)->vcpu, KVM_RUN, 0);
	j->err = errno;
}

const char *gs_kvm_exit_name(__u32 reason)
{
	switch (reason) {
	case KVM_EXIT_IO:
		return "KVM_EXIT_IO";
	case KVM_EXIT_HLT:
		return "KVM_EXIT_HLT";
	case KVM_EXIT_MMIO:
		return "KVM_EXIT_MMIO";
	case KVM_EXIT_INTR:
		return "KVM_EXIT_INTR";
	case KVM_EXIT_SHUTDOWN:
		return "KVM_EXIT_SHUTDOWN";
	case KVM_EXIT_FAIL_ENTRY:
		return "KVM_EXIT_FAIL_ENTRY";
	case KVM_EXIT_INTERNAL_ERROR:
		return "KVM_EXIT_INTERNAL_ERROR";
	default:
		return "another exit";
	}
}

/* The guest's report: the copy finished with nothing left. */
void gs_vm_check_report(struct gs_vm *vm, struct gs_job *j)
{
	struct kvm_run *run = vm->run;
	__u32 left;

	if (j->ret)
		gs_fail("KVM_RUN failed: %s (exit reason %u)",
			strerrorname_np(j->err) ?: "?", run->exit_reason);
	if (run->exit_reason != KVM_EXIT_IO || run->io.port != GS_VM_REPORT_PORT ||
	    run->io.direction != KVM_EXIT_IO_OUT || run->io.size != 4)
		gs_fail("guest stopped with %s (%u), not its report on port %#x",
			gs_kvm_exit_name(run->exit_reason), run->exit_reason,
			GS_VM_REPORT_PORT);
	memcpy(&left, (char *)run + run->io.data_offset, sizeof(left));
	if (left)
		gs_fail("guest reports %u dwords left to copy", left);
}

/* Run the guest until it reports, bounded. */
void gs_vm_run(struct gs_vm *vm, const char *what)
{
	struct gs_job j;

	gs_job_start(&j, gs_vm_run_job, vm, 0);
	gs_phase("waiting for KVM_RUN (%s)", what);
	if (!gs_job_wait(&j, GS_WAIT_MS))
		gs_fail("KVM_RUN (%s) did not return in %d ms", what,
			GS_WAIT_MS);
	gs_vm_check_report(vm, &j);
}
