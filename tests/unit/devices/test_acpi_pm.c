/* ACPI PM1a registers: the S5 poweroff path and the register semantics. */
#include "check.h"
#include "fakehost.h"

extern const struct device_class acpi_pm_class;

#define EVT	0
#define CNT	1
#define SLP_EN	0x2000
#define SLP_TYP(n) ((n) << 10)

static struct fakehost fh;
static struct device dev;

static int pm_new(char *param)
{
	struct fakespec fs;

	fakespec_init(&fs, "acpi_pm");
	fakespec_add_pio(&fs, 0x600, 4);
	fakespec_add_pio(&fs, 0x604, 2);
	fakespec_add_irq(&fs, 9);
	if (param)
		fakespec_add_param(&fs, param);
	return fakehost_create(&fh, &dev, &acpi_pm_class, &fs.spec, -1, -1);
}

static unsigned poweroffs(void)
{
	return fakehost_count_events(&fh, DEV_EVENT_POWEROFF);
}

static void test_bad_specs(void)
{
	struct fakespec fs;

	fakespec_init(&fs, "acpi_pm");
	fakespec_add_pio(&fs, 0x600, 4);
	CHECK(fakehost_create(&fh, &dev, &acpi_pm_class, &fs.spec, -1, -1) == -EINVAL,
	      "missing PM1a_CNT region: -EINVAL");
	fakespec_add_pio(&fs, 0x604, 4);
	CHECK(fakehost_create(&fh, &dev, &acpi_pm_class, &fs.spec, -1, -1) == -EINVAL,
	      "4-port PM1a_CNT: -EINVAL");
	CHECK(fakehost_logged(&fh, "PM1a_EVT"), "error logged");
	CHECK(pm_new("s5=8") == -EINVAL, "s5=8: -EINVAL");
	CHECK(pm_new("s5=x") == -EINVAL, "s5=x: -EINVAL");
	CHECK(fakehost_logged(&fh, "s5=x"), "bad param logged");
}

static void test_poweroff(void)
{
	CHECK_EQ(dev_in(&dev, CNT, 0, 2), 0x0001, "PM1_CNT: SCI_EN reads 1");
	dev_out(&dev, CNT, 0, 2, SLP_TYP(1) | SLP_EN | 1);
	CHECK_EQ(poweroffs(), 0, "SLP_TYP 1: no poweroff");
	CHECK(fakehost_logged(&fh, "sleep type 1"), "unsupported sleep type logged");
	CHECK_EQ(dev_in(&dev, CNT, 0, 2), SLP_TYP(1) | 1, "SLP_TYP kept, SLP_EN reads 0");
	dev_out(&dev, CNT, 0, 2, SLP_TYP(5));
	CHECK_EQ(poweroffs(), 0, "SLP_TYP 5 without SLP_EN: nothing");
	dev_out(&dev, CNT, 0, 2, SLP_TYP(5) | SLP_EN | 1);
	CHECK_EQ(poweroffs(), 1, "S5 with SLP_EN: POWEROFF posted");
	dev_out(&dev, CNT, 0, 1, 0x01);
	dev_out(&dev, CNT, 1, 1, (SLP_TYP(5) | SLP_EN) >> 8);
	CHECK_EQ(poweroffs(), 2, "byte writes (low, then high): POWEROFF");
	dev_out(&dev, CNT, 0, 1, 0x01);
	CHECK_EQ(poweroffs(), 2, "a low-byte write alone does not sleep");
	dev_out(&dev, EVT, 0, 4, (uint64_t)(SLP_TYP(5) | SLP_EN) << 16);
	CHECK_EQ(poweroffs(), 2, "the same value in PM1_EN is no sleep");
}

static void test_evt(void)
{
	dev_out(&dev, EVT, 2, 2, 0xFFFF);
	CHECK_EQ(dev_in(&dev, EVT, 2, 2), 0x4721, "PM1_EN keeps only defined bits");
	CHECK_EQ(dev_in(&dev, EVT, 0, 2), 0, "PM1_STS: nothing happened");
	dev_out(&dev, EVT, 0, 2, 0xFFFF);
	CHECK_EQ(dev_in(&dev, EVT, 0, 4), 0x47210000, "write-1-to-clear STS leaves EN");
	dev_out(&dev, EVT, 0, 4, 0x01000000);
	CHECK_EQ(dev_in(&dev, EVT, 2, 2), 0x0100, "dword write reaches PM1_EN");
	CHECK_EQ(dev_in(&dev, CNT, 0, 4) >> 16, 0xFFFF, "bytes past PM1_CNT read 0xFF");
	CHECK(dev_in(&dev, EVT, 4, 1) == ~0ull, "offset past the region refused");
	CHECK_EQ(fh.irq_calls, 0, "no status bit set: SCI never raised");
	dev.ops->reset(&dev);
	CHECK_EQ(dev_in(&dev, EVT, 2, 2), 0, "reset clears PM1_EN");
	CHECK_EQ(dev_in(&dev, CNT, 0, 2), 1, "reset: PM1_CNT back to SCI_EN only");
}

/* The power button (vmm-ctl powerdown): PWRBTN_STS, the SCI only while enabled. */
static void test_power_button(void)
{
	dev.ops->input(&dev, DEV_INPUT_POWER_BUTTON);
	CHECK_EQ(dev_in(&dev, EVT, 0, 2), 0x0100, "pressed: PM1_STS.PWRBTN_STS set");
	CHECK_EQ(fh.irq[0], 0, "PWRBTN_EN clear: no SCI");
	dev_out(&dev, EVT, 2, 2, 0x0100);
	CHECK_EQ(fh.irq[0], 1, "the guest enables PWRBTN_EN: the SCI rises");
	dev_out(&dev, EVT, 0, 2, 0x0100);
	CHECK_EQ(dev_in(&dev, EVT, 0, 2), 0, "write 1 to clear PWRBTN_STS");
	CHECK_EQ(fh.irq[0], 0, "and the SCI falls");
	dev.ops->input(&dev, DEV_INPUT_POWER_BUTTON);
	CHECK_EQ(fh.irq[0], 1, "pressed again with PWRBTN_EN set: the SCI at once");
	dev.ops->input(&dev, (enum device_input)99);
	CHECK_EQ(dev_in(&dev, EVT, 0, 2), 0x0100, "an unknown input changes nothing");
	dev.ops->reset(&dev);
	CHECK_EQ(fh.irq[0], 0, "reset lowers the SCI");
}

static void test_s5_param(void)
{
	CHECK(pm_new("s5=7") == 0, "create with s5=7");
	dev_out(&dev, CNT, 0, 2, SLP_TYP(5) | SLP_EN);
	CHECK_EQ(poweroffs(), 0, "s5=7: SLP_TYP 5 ignored");
	dev_out(&dev, CNT, 0, 2, SLP_TYP(7) | SLP_EN);
	CHECK_EQ(poweroffs(), 1, "s5=7: SLP_TYP 7 powers off");
	dev.ops->destroy(&dev);
	CHECK(dev.priv == NULL, "destroy frees the state");
}

int main(void)
{
	fakehost_init(&fh);
	test_bad_specs();
	fakehost_init(&fh);
	CHECK(pm_new(NULL) == 0, "create with PM1a_EVT, PM1a_CNT and the SCI");
	test_poweroff();
	test_evt();
	test_power_button();
	dev.ops->destroy(&dev);
	fakehost_init(&fh);
	test_s5_param();
	return check_done();
}
