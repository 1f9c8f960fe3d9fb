"""Questions about one product (actions/products.py): pure logic, no servers."""

from __future__ import annotations

import pytest

from actions.products import asks_about_a_product


@pytest.mark.parametrize(
    "text",
    [
        "iphone 15 pro max còn hàng không ạ",
        "ip 13 con mau xanh ko",  # a brand abbreviation, teencode, no marks
        "mẫu này còn size M không",  # the product they are looking at
        "tủ lạnh Samsung 300 lít giá bao nhiêu vậy shop",
        "giá tivi Sony 65 inch bao nhiêu",
        "tai nghe sony wh1000xm5 chính hãng giá nhiêu",  # "hãng giá", not "hàng giả"
        "tư vấn giúp mình laptop tầm 15 triệu để học lập trình",  # "lập trình", not "lắp"
        "nên mua tivi lg hay samsung",
        "có mẫu máy hút ẩm nào dưới 3 triệu không",
        "shop có bán máy rửa bát không",
        "tủ lạnh nào tiết kiệm điện",
        "máy lạnh loại nào chạy êm",
        "shop ơi mua điện thoại có tặng ốp ko ạ",  # it got the OTP article, on "ốp"
        "mua tủ lạnh có quà tặng kèm gì không",
    ],
)
def test_stock_price_advice_and_sale_of_a_product(text: str) -> None:
    assert asks_about_a_product(text)


@pytest.mark.parametrize(
    "text",
    [
        # The help center's questions, a product named in some of them.
        "Phí giao hỏa tốc bên mình bao nhiêu vậy shop?",
        "dùng 2 mã giảm giá cùng lúc được không",
        "Mua máy giặt giao ở Hà Đông, nhà tầng 4 không có thang máy thì có tốn thêm tiền không?",
        "Lắp điều hòa thì ống đồng tính bao nhiêu tiền một mét?",
        "tivi samsung trả góp được không",
        "điện thoại mua rồi còn đổi được không",
        "shop có bán hàng xách tay không",
        "gói bảo hành mở rộng giá bao nhiêu",
        "mua tủ lạnh có tặng lắp đặt không",
        "gói quà có kèm thiệp không",
        # Asks nothing about a product, or names none.
        "iphone 15 của mình bị trầy",
        "giá bao nhiêu",
        "",
    ],
)
def test_policy_questions_and_the_rest_are_not(text: str) -> None:
    assert not asks_about_a_product(text)
